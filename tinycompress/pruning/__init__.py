"""Pruning (chapter 3): ``magnitude`` masks and thresholds, ``iterative`` pruning with retraining
and sensitivity, ``filters`` (structured pruning by L1 norm), ``sparse`` (CSR inference)."""
