"""Trained quantisation (chapter 4): ``kmeans`` (1-D clustering), ``sharing`` (codebooks and the
centroid gradient), ``trained`` (a whole model's shared weights, fine-tuned), ``uniform``
(the linear int8 / fp16 baselines)."""
