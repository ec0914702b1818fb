"""Entropy coding and the compressed file (chapter 5): ``bitio``, ``huffman`` (the textbook),
``huffman_tables`` and ``huffman_fast`` (the fast decoder), ``relative_index`` (sparse storage),
``arith`` (adaptive binary arithmetic coding, readable), ``contexts`` and ``contexts_fast`` (a
sparse tensor as context-coded decisions, readable and fast), ``arith_section`` (one tensor
arithmetic coded), ``small_tensors`` (biases in fp16 or 8 bits), ``sections`` (one tensor's
smallest form), ``manifest`` (the rules of every field of the file's manifest), ``layout`` (the
header, manifest and checksums of versions 1 and 2), ``tcz`` (the file), ``accounting`` (where
its bytes go, and what entropy coding saves per layer), ``compare`` (zlib and lzma),
``storage_model`` (VGG-16's storage by the paper's accounting, from shapes and densities)."""
