// HTML character references as Python decodes them: html.unescape (the standard library) and
// ftfy's stricter unescape_html, the two steps of CLIP's text cleaning that read entities.
//
// Entity names: the 252 of HTML 4, &apos; and the names HTML 5 also accepts without a semicolon
// (&amp, &copy, &eacute ... and &AMP, &COPY, &GT, &LT, &QUOT, &REG) — so the longest-prefix rule
// for names without a semicolon ("&ampx" → "&x") is Python's exactly. The other ~2,000 names of
// HTML 5 (&lbrace;, &NewLine; ...) are left as they are written.
#pragma once

#include <string>

namespace ms::core::text {

// Python's html.unescape: named and numeric references, with or without the semicolon, the
// HTML 5 rules for invalid numbers (&#0; → U+FFFD, &#128; → €, &#1; → nothing ...).
std::u32string htmlUnescape(const std::u32string& text);
std::string htmlUnescape(const std::string& utf8);

// ftfy.fixes.unescape_html: only references that end in a semicolon ("&#?[0-9A-Za-z]{1,24};"),
// plus all-capital spellings of lower-case names (&EACUTE; → É, &SZLIG; → SS).
std::u32string ftfyUnescapeHtml(const std::u32string& text);

// Windows-1252's character for a byte 0x80–0x9F; the five bytes it leaves undefined map to
// themselves (ftfy's "sloppy" codec, and html.unescape's table of invalid references).
char32_t windows1252(char32_t c1);

}  // namespace ms::core::text
