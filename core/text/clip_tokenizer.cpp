#include "core/text/clip_tokenizer.h"

#include <unicode/regex.h>
#include <unicode/utf8.h>
#include <zlib.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "core/errors.h"
#include "core/text/icu_text.h"

namespace ms::core::text {

namespace fs = std::filesystem;

struct ClipVocabulary {
    std::unordered_map<std::string, int> ids;
    std::unordered_map<std::string, int> ranks;  // "first second" → rank (symbols hold no space)
    int start = 0;
    int end = 0;
    std::size_t size = 0;
    std::string source;
};

// Pieces already encoded; shared by copies of a tokenizer, as OpenAI's per-instance cache.
class ClipWordCache {
  public:
    bool find(const std::string& piece, std::vector<int>& out) {
        std::lock_guard lock(m_mutex);
        const auto it = m_ids.find(piece);
        if (it == m_ids.end()) return false;
        out.insert(out.end(), it->second.begin(), it->second.end());
        return true;
    }
    void store(const std::string& piece, std::vector<int> ids) {
        std::lock_guard lock(m_mutex);
        if (m_ids.size() >= kMaxEntries) m_ids.clear();  // bounded: text is user input
        m_ids.emplace(piece, std::move(ids));
    }

  private:
    static constexpr std::size_t kMaxEntries = 200000;
    std::mutex m_mutex;
    std::unordered_map<std::string, std::vector<int>> m_ids;
};

namespace {

constexpr const char* kStart = "<|startoftext|>";
constexpr const char* kEnd = "<|endoftext|>";
constexpr std::size_t kOpenAiMerges = 49152 - 256 - 2;  // OpenAI's lines[1 : 49152-256-2+1]

// bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 for U+0100 on.
// Returned in vocabulary order (the printable ones first), as UTF-8.
const std::array<std::pair<unsigned char, std::string>, 256>& byteSymbols() {
    static const auto table = [] {
        std::array<std::pair<unsigned char, std::string>, 256> t;
        auto printable = [](int b) {
            return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        };
        std::size_t k = 0;
        for (int b = 0; b < 256; ++b)
            if (printable(b))
                t[k++] = {static_cast<unsigned char>(b),
                          utf8Of(icu::UnicodeString(static_cast<UChar32>(b)))};
        int extra = 0;
        for (int b = 0; b < 256; ++b)
            if (!printable(b))
                t[k++] = {static_cast<unsigned char>(b),
                          utf8Of(icu::UnicodeString(static_cast<UChar32>(256 + extra++)))};
        return t;
    }();
    return table;
}

const std::array<std::string, 256>& symbolOfByte() {
    static const auto table = [] {
        std::array<std::string, 256> t;
        for (const auto& [b, s] : byteSymbols()) t[b] = s;
        return t;
    }();
    return table;
}

// OpenAI's pre-tokenising regex. Its IGNORECASE flag is spelled out: the text is lower-cased
// already, so the flag matters only where a lower-case character folds onto another — 'ſ' on 's'
// in the literals, and U+0345 (which folds to ι, a letter) drops out of the symbol class.
const icu::RegexPattern& pieceRegex() {
    static const std::unique_ptr<icu::RegexPattern> pattern = [] {
        auto caseless = [](const std::string& literal) {
            std::string out;
            for (char c : literal) {
                if (c == 's')
                    out += "[sS\\u017F]";
                else if (c >= 'a' && c <= 'z')
                    out += std::string("[") + c + static_cast<char>(c - 32) + "]";
                else if (c == '|')
                    out += "\\|";
                else
                    out += c;
            }
            return out;
        };
        std::string p;
        for (const char* literal : {kStart, kEnd, "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"})
            p += caseless(literal) + "|";
        p += "[\\p{L}]+|[\\p{N}]|[^\\p{White_Space}\\p{L}\\p{N}\\u0345]+";
        UParseError where;
        UErrorCode status = U_ZERO_ERROR;
        std::unique_ptr<icu::RegexPattern> compiled(
            icu::RegexPattern::compile(icuOf(p), 0, where, status));
        if (U_FAILURE(status))
            throw Error(std::string("CLIP tokenizer regex: ") + u_errorName(status));
        return compiled;
    }();
    return *pattern;
}

std::string readFile(const std::string& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw IoError(path, "no such file");
    if (fs::is_directory(path, ec)) throw IoError(path, "is a folder, not a file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(path, std::strerror(errno));
    std::ostringstream s;
    s << in.rdbuf();
    if (in.bad()) throw IoError(path, "read failed");
    return s.str();
}

// A gzip file's contents; a file that is not gzipped is read as it is (zlib's transparent mode).
std::string readMaybeGzipped(const std::string& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw IoError(path, "no such file");
    if (fs::is_directory(path, ec)) throw IoError(path, "is a folder, not a file");
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) throw IoError(path, errno ? std::strerror(errno) : "cannot open");
    std::string out;
    std::array<char, 1 << 16> buf;
    int n = 0;
    while ((n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0)
        out.append(buf.data(), static_cast<std::size_t>(n));
    int err = Z_OK;
    const std::string message = gzerror(f, &err);
    gzclose(f);
    if (n < 0 || (err != Z_OK && err != Z_STREAM_END))
        throw FormatError(path, "not a readable gzip file: " + message);
    return out;
}

void requireUtf8(const std::string& path, const std::string& text) {
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    const auto length = static_cast<int32_t>(text.size());
    if (text.size() > static_cast<std::size_t>(INT32_MAX))
        throw FormatError(path, "too large for a vocabulary");
    for (int32_t i = 0; i < length;) {
        const int32_t at = i;
        UChar32 c = 0;
        U8_NEXT(s, i, length, c);
        if (c < 0) throw FormatError(path, "not UTF-8 text (byte " + std::to_string(at) + ")");
    }
}

std::vector<std::string> splitLines(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t pos = 0;
    for (std::size_t nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1)
        lines.push_back(text.substr(pos, nl - pos));
    lines.push_back(text.substr(pos));
    return lines;
}

// "a b" → {a, b}; blank → nullopt; anything else is malformed.
std::optional<std::pair<std::string, std::string>> mergeOf(const std::string& path,
                                                           const std::string& line,
                                                           std::size_t lineNo) {
    std::vector<std::string> parts;
    std::istringstream words(line);
    for (std::string w; words >> w;) parts.push_back(w);
    if (parts.empty()) return std::nullopt;
    if (parts.size() != 2) {
        const std::string shown = line.size() > 60 ? line.substr(0, 60) + "…" : line;
        throw FormatError(path, "line " + std::to_string(lineNo) +
                                    ": a merge is two symbols separated by a space, found '" +
                                    shown + "'");
    }
    return std::make_pair(parts[0], parts[1]);
}

using Merges = std::vector<std::pair<std::string, std::string>>;

void setRanks(ClipVocabulary& v, const Merges& merges) {
    for (std::size_t i = 0; i < merges.size(); ++i)
        v.ranks.insert_or_assign(merges[i].first + ' ' + merges[i].second, static_cast<int>(i));
}

int idOf(const ClipVocabulary& v, const std::string& token, const std::string& file) {
    const auto it = v.ids.find(token);
    if (it == v.ids.end()) throw FormatError(file, "the vocabulary has no token '" + token + "'");
    return it->second;
}

// OpenAI's bpe(): merge the lowest-ranked adjacent pair, everywhere, until none has a rank.
std::vector<std::string> bytePairs(const ClipVocabulary& v, const std::string& piece) {
    std::vector<std::string> word;
    word.reserve(piece.size());
    for (unsigned char b : piece) word.push_back(symbolOfByte()[b]);
    word.back() += "</w>";
    std::string key;
    while (word.size() > 1) {
        int best = INT_MAX;
        std::size_t bestAt = 0;
        for (std::size_t i = 0; i + 1 < word.size(); ++i) {
            key.assign(word[i]).append(1, ' ').append(word[i + 1]);
            const auto it = v.ranks.find(key);
            if (it != v.ranks.end() && it->second < best) best = it->second, bestAt = i;
        }
        if (best == INT_MAX) break;
        const std::string first = word[bestAt], second = word[bestAt + 1];
        std::vector<std::string> merged;
        merged.reserve(word.size());
        for (std::size_t i = 0; i < word.size(); ++i) {
            if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
                merged.push_back(first + second);
                ++i;
            } else {
                merged.push_back(std::move(word[i]));
            }
        }
        word = std::move(merged);
    }
    return word;
}

}  // namespace

ClipTokenizer::ClipTokenizer(std::shared_ptr<const ClipVocabulary> vocabulary)
    : m_vocabulary(std::move(vocabulary)), m_cache(std::make_shared<ClipWordCache>()) {}

ClipTokenizer ClipTokenizer::fromOpenClip(const std::string& bpeGz) {
    const std::string text = readMaybeGzipped(bpeGz);
    requireUtf8(bpeGz, text);
    const std::vector<std::string> lines = splitLines(text);
    Merges merges;
    for (std::size_t i = 1; i < lines.size() && i <= kOpenAiMerges; ++i)
        if (auto m = mergeOf(bpeGz, lines[i], i + 1)) merges.push_back(std::move(*m));
    if (merges.empty()) throw FormatError(bpeGz, "holds no merges after its header line");

    auto v = std::make_shared<ClipVocabulary>();
    std::vector<std::string> tokens;
    for (const auto& [b, s] : byteSymbols()) tokens.push_back(s);
    for (const auto& [b, s] : byteSymbols()) tokens.push_back(s + "</w>");
    for (const auto& [a, b] : merges) tokens.push_back(a + b);
    tokens.push_back(kStart);
    tokens.push_back(kEnd);
    for (std::size_t i = 0; i < tokens.size(); ++i)
        v->ids.insert_or_assign(tokens[i],
                                static_cast<int>(i));  // a repeat: the last id, as OpenAI's dict
    setRanks(*v, merges);
    v->start = v->ids.at(kStart);
    v->end = v->ids.at(kEnd);
    v->size = tokens.size();
    v->source = "open_clip " + fs::path(bpeGz).filename().string() + " (" +
                std::to_string(v->size) + " tokens)";
    return ClipTokenizer(std::move(v));
}

ClipTokenizer ClipTokenizer::fromHf(const std::string& vocabJson, const std::string& mergesTxt) {
    auto v = std::make_shared<ClipVocabulary>();
    const std::string vocabText = readFile(vocabJson), mergesText = readFile(mergesTxt);
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(vocabText);
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(vocabJson, std::string("not valid JSON (") + e.what() + ")");
    }
    if (!doc.is_object())
        throw FormatError(
            vocabJson, std::string("expected a JSON object mapping each token to its id, found ") +
                           doc.type_name());
    int largest = -1;
    for (const auto& [token, id] : doc.items()) {
        if (!id.is_number_integer() || id.get<long long>() < 0 || id.get<long long>() >= INT_MAX)
            throw FormatError(vocabJson,
                              "token '" + token + "': the id is not a non-negative integer");
        v->ids[token] = id.get<int>();
        largest = std::max(largest, id.get<int>());
    }
    for (const auto& [b, s] : byteSymbols()) {
        idOf(*v, s, vocabJson);
        idOf(*v, s + "</w>", vocabJson);
    }
    v->start = idOf(*v, kStart, vocabJson);
    v->end = idOf(*v, kEnd, vocabJson);
    v->size = static_cast<std::size_t>(largest) + 1;

    requireUtf8(mergesTxt, mergesText);
    const std::vector<std::string> lines = splitLines(mergesText);
    Merges merges;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (i == 0 && lines[0].rfind("#version", 0) == 0) continue;
        if (auto m = mergeOf(mergesTxt, lines[i], i + 1)) merges.push_back(std::move(*m));
    }
    setRanks(*v, merges);
    v->source = "Hugging Face " + fs::path(vocabJson).filename().string() + " + " +
                fs::path(mergesTxt).filename().string() + " (" + std::to_string(v->size) +
                " tokens)";
    return ClipTokenizer(std::move(v));
}

ClipTokenizer ClipTokenizer::load(const std::string& path) {
    std::error_code ec;
    const fs::path p(path);
    if (!fs::exists(p, ec)) throw IoError(path, "no such file or folder");
    if (fs::is_directory(p, ec)) {
        const fs::path vocab = p / "vocab.json", merges = p / "merges.txt",
                       gz = p / "bpe_simple_vocab_16e6.txt.gz";
        if (fs::exists(vocab, ec) && fs::exists(merges, ec))
            return fromHf(vocab.string(), merges.string());
        if (fs::exists(gz, ec)) return fromOpenClip(gz.string());
        std::vector<fs::path> gzipped;
        for (const auto& e : fs::directory_iterator(p, ec)) {
            const std::string name = e.path().filename().string();
            if (e.is_regular_file(ec) && name.size() > 7 && name.ends_with(".txt.gz"))
                gzipped.push_back(e.path());
        }
        if (gzipped.size() == 1) return fromOpenClip(gzipped.front().string());
        if (fs::exists(vocab, ec) != fs::exists(merges, ec))
            throw IoError((fs::exists(vocab, ec) ? merges : vocab).string(),
                          "no such file (vocab.json and merges.txt go together)");
        throw IoError(path,
                      "holds no CLIP tokenizer: neither vocab.json + merges.txt nor "
                      "bpe_simple_vocab_16e6.txt.gz");
    }
    const std::string name = p.filename().string();
    if (p.extension() == ".json") return fromHf(path, (p.parent_path() / "merges.txt").string());
    if (name.ends_with("merges.txt"))
        return fromHf((p.parent_path() / "vocab.json").string(), path);
    return fromOpenClip(path);
}

std::vector<int> ClipTokenizer::encode(const std::string& utf8) const {
    return encodeNormalized(clipNormalize(utf8));
}

std::vector<int> ClipTokenizer::encodeNormalized(const std::string& normalized) const {
    const ClipVocabulary& v = *m_vocabulary;
    std::vector<int> out;
    const icu::UnicodeString text = icuOf(normalized);
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::RegexMatcher> matcher(pieceRegex().matcher(text, status));
    if (U_FAILURE(status)) throw Error(std::string("CLIP tokenizer regex: ") + u_errorName(status));
    while (matcher->find(status) && U_SUCCESS(status)) {
        const std::string piece = utf8Of(matcher->group(status));
        if (piece == kStart || piece == kEnd) {
            out.push_back(piece == kStart ? v.start : v.end);
            continue;
        }
        if (m_cache->find(piece, out)) continue;
        std::vector<int> ids;
        for (const std::string& symbol : bytePairs(v, piece))
            ids.push_back(idOf(v, symbol, v.source));
        out.insert(out.end(), ids.begin(), ids.end());
        m_cache->store(piece, std::move(ids));
    }
    if (U_FAILURE(status)) throw Error(std::string("CLIP tokenizer regex: ") + u_errorName(status));
    return out;
}

std::vector<int> ClipTokenizer::tokenize(const std::string& utf8, int contextLength) const {
    if (contextLength < 1)
        throw InvalidArgument("the context length must be at least 1, not " +
                              std::to_string(contextLength));
    std::vector<int> tokens{m_vocabulary->start};
    const std::vector<int> ids = encode(utf8);
    tokens.insert(tokens.end(), ids.begin(), ids.end());
    tokens.push_back(m_vocabulary->end);
    if (tokens.size() > static_cast<std::size_t>(contextLength)) {
        tokens.resize(static_cast<std::size_t>(contextLength));
        tokens.back() = m_vocabulary->end;
    }
    tokens.resize(static_cast<std::size_t>(contextLength), 0);
    return tokens;
}

int ClipTokenizer::startToken() const {
    return m_vocabulary->start;
}
int ClipTokenizer::endToken() const {
    return m_vocabulary->end;
}
std::size_t ClipTokenizer::vocabularySize() const {
    return m_vocabulary->size;
}
std::string ClipTokenizer::sourceDescription() const {
    return m_vocabulary->source;
}

}  // namespace ms::core::text
