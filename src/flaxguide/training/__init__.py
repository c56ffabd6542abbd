"""Training a model: the optimiser, the epoch, the loop, and one backend per
Flax API.

- `optim`: the learning-rate schedule, clipping and Adam, and the EMA;
- `epoch`: any step run over a shuffled epoch in one jitted call, and the
  evaluation of a split;
- `linen`, `nnx`: each API's training state, epoch and finetuning;
- `backend`: the only module that knows there are two APIs; everything
  else calls it;
- `loop`: `fit`, which trains epoch by epoch and hands each finished one to
  a `save` callback;
- `stops`: stop signals that wait for the epoch in flight;
- `sharding`: spreading each batch over devices.
"""
