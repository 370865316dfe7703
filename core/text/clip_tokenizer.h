// CLIP's text tokenizer, torch-free: the byte-level BPE OpenAI published with CLIP
// (openai/CLIP clip/simple_tokenizer.py; open_clip's SimpleTokenizer is the same algorithm), so
// that zero-shot heads can be built from class names and prompt templates.
//
// encode(text): clipNormalize (clip_normalize.h: ftfy's fixes of well-formed text, html.unescape
// twice, whitespace, lower()), split by OpenAI's regex
//     <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// (with its IGNORECASE flag), each piece's UTF-8 bytes mapped to characters by bytes_to_unicode,
// "</w>" on the last, and the lowest-ranked adjacent pair merged until no pair has a rank.
// Not reproduced: ftfy's mojibake repair (clip_normalize.h) and the HTML 5 entity names beyond
// HTML 4's (html_unescape.h).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/text/clip_normalize.h"
#include "core/text/prompt_templates.h"

namespace ms::core::text {

struct ClipVocabulary;  // ids, merge ranks, special tokens (clip_tokenizer.cpp)
class ClipWordCache;

class ClipTokenizer {
  public:
    // A model folder or file: Hugging Face's `vocab.json` + `merges.txt` (a folder holding both,
    // or either file's path; the other is read beside it), or open_clip's
    // `bpe_simple_vocab_16e6.txt.gz` (the file — any .gz or .txt — or a folder holding it or
    // exactly one *.txt.gz). A folder with both kinds is read as Hugging Face's. Throws IoError
    // (missing, unreadable) or FormatError (contents), naming the file and the reason.
    static ClipTokenizer load(const std::string& path);
    // vocab.json: a JSON object token → id (ids used as they are; it must hold the 512 byte
    // tokens and <|startoftext|>, <|endoftext|>); merges.txt: one "a b" pair a line in rank order,
    // an optional "#version" first line.
    static ClipTokenizer fromHf(const std::string& vocabJson, const std::string& mergesTxt);
    // open_clip's/OpenAI's file, gzipped or not: a header line, then merges. As OpenAI, the lines
    // 1 … 48894 are the merges (the released file holds more than the model uses); a shorter
    // file gives all its lines after the header, blank lines skipped. Ids: the 256 byte
    // characters, the same with "</w>", each merge joined, <|startoftext|>, <|endoftext|>.
    static ClipTokenizer fromOpenClip(const std::string& bpeGz);

    // BPE ids of the text, without <|startoftext|>/<|endoftext|>. Thread-safe (the per-word
    // cache is shared by copies and locked).
    std::vector<int> encode(const std::string& utf8) const;
    // open_clip's tokenize(): <|startoftext|> + encode(text) + <|endoftext|>, zero-padded to
    // contextLength; a longer one is cut to contextLength with <|endoftext|> last. contextLength
    // must be at least 1 (InvalidArgument).
    std::vector<int> tokenize(const std::string& utf8, int contextLength = 77) const;

    int startToken() const;
    int endToken() const;
    std::size_t vocabularySize() const;  // the largest id + 1: rows of the token embedding
    // What was loaded, e.g. "open_clip bpe_simple_vocab_16e6.txt.gz (49408 tokens)".
    std::string sourceDescription() const;

  private:
    explicit ClipTokenizer(std::shared_ptr<const ClipVocabulary> vocabulary);
    std::vector<int> encodeNormalized(const std::string& normalized) const;

    std::shared_ptr<const ClipVocabulary> m_vocabulary;
    std::shared_ptr<ClipWordCache> m_cache;
};

}  // namespace ms::core::text
