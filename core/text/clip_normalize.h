// The text cleaning CLIP applies before BPE (openai/CLIP simple_tokenizer.py, open_clip
// tokenizer.py): ftfy.fix_text, html.unescape twice, strip, whitespace runs → one space, lower().
//
// ftfy is reproduced in the steps that change well-formed text, in ftfy 6's order and repeated
// until nothing changes, line by line as ftfy does: its HTML unescaping (off from the first line
// holding a '<' on), C1 controls read as Windows-1252, Latin ligatures (ﬁ → fi, Ĳ → IJ, ǆ → dž
// ...), full- and halfwidth forms to their NFKC equivalents (and U+3000 to a space), curly
// quotes straightened, line breaks to '\n', ANSI terminal escapes removed, control characters
// removed (U+00–08, 0B, 0E–1F, 7F, 206A–206F, FEFF, FFF9–FFFC), then NFC.
// Not reproduced: ftfy's mojibake repair (fix_encoding: re-decoding text that was UTF-8 read as
// Latin-1/Windows-125x, restore_byte_a0, replace_lossy_sequences, decode_inconsistent_utf8),
// which acts only on text that looks garbled. HTML entities: see html_unescape.h.
#pragma once

#include <string>

namespace ms::core::text {

// ftfy.fix_text(text) with its default configuration, less fix_encoding (see above).
std::string fixText(const std::string& utf8);

// The whole of CLIP's cleaning: what its regex and BPE see. Ill-formed UTF-8 is read with
// U+FFFD in place of each bad sequence.
std::string clipNormalize(const std::string& utf8);

}  // namespace ms::core::text
