// Conversions between the strings core/text works with: UTF-8 (the API), UTF-32 (the character
// passes of the normalisation) and ICU's UnicodeString (regex, normalisation, case mapping).
// Internal to core/text: it includes ICU, which mscore links privately.
#pragma once

#include <unicode/unistr.h>

#include <string>

namespace ms::core::text {

// Ill-formed UTF-8 becomes U+FFFD, one per maximal ill-formed subsequence (as Python's
// bytes.decode("utf-8", "replace")).
inline icu::UnicodeString icuOf(const std::string& utf8) {
    return icu::UnicodeString::fromUTF8(utf8);
}

inline std::string utf8Of(const icu::UnicodeString& s) {
    std::string out;
    s.toUTF8String(out);
    return out;
}

inline std::u32string u32Of(const icu::UnicodeString& s) {
    std::u32string out;
    out.reserve(static_cast<std::size_t>(s.length()));
    for (int32_t i = 0; i < s.length(); i = s.moveIndex32(i, 1))
        out.push_back(static_cast<char32_t>(s.char32At(i)));
    return out;
}

inline icu::UnicodeString icuOf(const std::u32string& s) {
    return icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(s.data()),
                                         static_cast<int32_t>(s.size()));
}

inline std::u32string u32Of(const std::string& utf8) {
    return u32Of(icuOf(utf8));
}
inline std::string utf8Of(const std::u32string& s) {
    return utf8Of(icuOf(s));
}

}  // namespace ms::core::text
