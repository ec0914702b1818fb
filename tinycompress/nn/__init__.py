"""The engine (chapters 1-2): layers with hand-derived backward passes, models, training, data.

``base`` (the Layer abstraction, the MultAdd convention), ``im2col``, ``dense``, ``conv``,
``pooling``, ``batchnorm``, ``elementwise``, ``depthwise`` (MobileNet's separable convolution),
``model`` (Sequential), ``losses``, ``optim``, ``train``, ``data`` (IDX files),
``architecture`` and ``checkpoint`` (models as files), ``schema`` (the field checks every file
reader shares), ``gradcheck`` (the proofs).
"""
