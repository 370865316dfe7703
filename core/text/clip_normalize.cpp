#include "core/text/clip_normalize.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <array>

#include "core/errors.h"
#include "core/text/html_unescape.h"
#include "core/text/icu_text.h"

namespace ms::core::text {
namespace {

const icu::Normalizer2& normalizer(bool compatibility) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = compatibility ? icu::Normalizer2::getNFKCInstance(status)
                                              : icu::Normalizer2::getNFCInstance(status);
    if (U_FAILURE(status))
        throw Error(std::string("ICU has no Unicode normalisation data: ") + u_errorName(status));
    return *n;
}

std::u32string nfc(const std::u32string& text) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2& n = normalizer(false);
    const icu::UnicodeString s = icuOf(text);
    if (n.isNormalized(s, status) && U_SUCCESS(status)) return text;
    status = U_ZERO_ERROR;
    const icu::UnicodeString out = n.normalize(s, status);
    if (U_FAILURE(status))
        throw Error(std::string("NFC normalisation failed: ") + u_errorName(status));
    return u32Of(out);
}

// ftfy's fix_latin_ligatures table.
const char32_t* ligature(char32_t c) {
    switch (c) {
        case 0x0132:
            return U"IJ";
        case 0x0133:
            return U"ij";
        case 0x0149:
            return U"\u02BCn";
        case 0x01F1:
            return U"DZ";
        case 0x01F2:
            return U"Dz";
        case 0x01F3:
            return U"dz";
        case 0x01C4:
            return U"D\u017D";
        case 0x01C5:
            return U"D\u017E";
        case 0x01C6:
            return U"d\u017E";
        case 0x01C7:
            return U"LJ";
        case 0x01C8:
            return U"Lj";
        case 0x01C9:
            return U"lj";
        case 0x01CA:
            return U"NJ";
        case 0x01CB:
            return U"Nj";
        case 0x01CC:
            return U"nj";
        case 0xFB00:
            return U"ff";
        case 0xFB01:
            return U"fi";
        case 0xFB02:
            return U"fl";
        case 0xFB03:
            return U"ffi";
        case 0xFB04:
            return U"ffl";
        case 0xFB05:
            return U"\u017Ft";
        case 0xFB06:
            return U"st";
        default:
            return nullptr;
    }
}

// ftfy's fix_character_width: U+FF01–FFEF to NFKC where that differs, U+3000 to a space.
const std::u32string& widthForm(char32_t c) {
    static const std::array<std::u32string, 0xFFF0 - 0xFF01> table = [] {
        std::array<std::u32string, 0xFFF0 - 0xFF01> t;
        const icu::Normalizer2& nfkc = normalizer(true);
        for (char32_t c = 0xFF01; c < 0xFFF0; ++c) {
            UErrorCode status = U_ZERO_ERROR;
            const std::u32string n =
                u32Of(nfkc.normalize(icu::UnicodeString(static_cast<UChar32>(c)), status));
            if (U_SUCCESS(status) && n != std::u32string(1, c)) t[c - 0xFF01] = n;
        }
        return t;
    }();
    static const std::u32string space = U" ", none;
    if (c == 0x3000) return space;
    return c >= 0xFF01 && c < 0xFFF0 ? table[c - 0xFF01] : none;
}

bool isRemovedControl(char32_t c) {
    return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
           (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

// One pass of the character-level fixes, in ftfy's order: C1 controls, ligatures, width,
// quotes, line breaks, terminal escapes, control characters.
std::u32string characterFixes(const std::u32string& text) {
    std::u32string a;
    a.reserve(text.size());
    for (char32_t c : text) {
        c = windows1252(c);  // fix_c1_controls (before fix_line_breaks: U+0085 becomes '…')
        if (const char32_t* l = ligature(c)) {
            a += l;
            continue;
        }
        if (const std::u32string& w = widthForm(c); !w.empty()) {
            a += w;
            continue;
        }
        a.push_back(c);
    }
    std::u32string b;
    b.reserve(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        char32_t c = a[i];
        if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B))
            c = '\'';  // uncurl_quotes
        else if (c >= 0x201C && c <= 0x201F)
            c = '"';
        if (c == '\r' && i + 1 < a.size() && a[i + 1] == '\n') continue;  // fix_line_breaks
        if (c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85) c = '\n';
        b.push_back(c);
    }
    std::u32string out;
    out.reserve(b.size());
    for (std::size_t i = 0; i < b.size(); ++i) {
        // remove_terminal_escapes: ESC '[' (digit | ';')* letter
        if (b[i] == 0x1B && i + 1 < b.size() && b[i + 1] == '[') {
            std::size_t j = i + 2;
            while (j < b.size() && (u_isdigit(static_cast<UChar32>(b[j])) || b[j] == ';')) ++j;
            if (j < b.size() && ((b[j] >= 'a' && b[j] <= 'z') || (b[j] >= 'A' && b[j] <= 'Z'))) {
                i = j;
                continue;
            }
        }
        if (!isRemovedControl(b[i])) out.push_back(b[i]);  // remove_control_chars
    }
    return out;
}

std::u32string fixSegment(std::u32string text, bool unescape) {
    for (;;) {
        const std::u32string before = text;
        if (unescape) text = ftfyUnescapeHtml(text);
        text = nfc(characterFixes(text));
        if (text == before) return text;
    }
}

// Python's str.isspace: White_Space and the information separators U+1C–1F.
bool isPythonSpace(char32_t c) {
    return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_WHITE_SPACE) ||
           (c >= 0x1C && c <= 0x1F);
}

std::u32string strip(const std::u32string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && isPythonSpace(s[b])) ++b;
    while (e > b && isPythonSpace(s[e - 1])) --e;
    return s.substr(b, e - b);
}

// regex's r'\s+' → ' ' (its \s is the White_Space property).
std::u32string collapseWhitespace(const std::u32string& s) {
    std::u32string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        if (u_hasBinaryProperty(static_cast<UChar32>(s[i]), UCHAR_WHITE_SPACE)) {
            out.push_back(' ');
            while (i < s.size() &&
                   u_hasBinaryProperty(static_cast<UChar32>(s[i]), UCHAR_WHITE_SPACE))
                ++i;
        } else {
            out.push_back(s[i++]);
        }
    }
    return out;
}

std::u32string fixText(const std::u32string& text) {
    constexpr std::size_t kMaxSegment = 1000000;  // ftfy's max_decode_length
    std::u32string out;
    bool unescape = true;
    for (std::size_t pos = 0; pos < text.size();) {
        const std::size_t nl = text.find(U'\n', pos);
        std::size_t end = nl == std::u32string::npos ? text.size() : nl + 1;
        end = std::min(end, pos + kMaxSegment);
        const std::u32string segment = text.substr(pos, end - pos);
        if (segment.find(U'<') != std::u32string::npos)
            unescape = false;  // ftfy's "auto": HTML stays HTML
        out += fixSegment(segment, unescape);
        pos = end;
    }
    return out;
}

}  // namespace

std::string fixText(const std::string& utf8) {
    return utf8Of(fixText(u32Of(utf8)));
}

std::string clipNormalize(const std::string& utf8) {
    std::u32string text = fixText(u32Of(utf8));
    text = strip(htmlUnescape(htmlUnescape(text)));
    icu::UnicodeString s = icuOf(strip(collapseWhitespace(text)));
    s.toLower(
        icu::Locale::getRoot());  // full mappings and the final sigma, as Python's str.lower()
    return utf8Of(s);
}

}  // namespace ms::core::text
