"""Code that only a chapter needs: it may import the training spine, never
the other way round."""
