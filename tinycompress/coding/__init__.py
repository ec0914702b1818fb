"""Entropy coding and the compressed file (chapter 5): ``bitio``, ``huffman`` (the textbook),
``huffman_tables`` and ``huffman_fast`` (the fast decoder), ``relative_index`` (sparse storage),
``sections`` (one tensor's smallest form), ``manifest`` (the rules of every field of the file's
manifest), ``tcz`` (the file), ``accounting`` (where its bytes go), ``compare`` (zlib and lzma)."""
