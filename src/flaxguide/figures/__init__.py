"""The figures the site shows and the manifest that says how they were made.

- `draw`: every figure, from a finished run and real MNIST test images;
- `plots`: matplotlib drawings from arrays and logs, no models;
- `manifest`: tables carried over from an earlier manifest.
"""
