#include "core/eval/zero_shot_heads.h"

#include <filesystem>

#include "core/errors.h"
#include "core/io/cache_paths.h"
#include "core/io/cache_store.h"
#include "core/io/content_hash.h"
#include "core/model/clip_text.h"
#include "core/model/encoder_weights.h"
#include "core/model/param_io.h"
#include "core/text/clip_tokenizer.h"

namespace ms::core::eval {

namespace fs = std::filesystem;

const std::vector<std::string>& headTemplates(const kit::HeadSpec& head) {
    return head.templates.empty() ? text::templateSet(head.templateSet.empty() ? "openai" : head.templateSet) : head.templates;
}

namespace {

// The files ClipTokenizer::load reads for `path` (its rules): vocab.json + merges.txt, or one
// open_clip .txt.gz; empty when a folder holds neither.
std::vector<fs::path> vocabularyFiles(const fs::path& path) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
        const std::string name = path.filename().string();
        if (name.ends_with(".json")) return {path, path.parent_path() / "merges.txt"};
        if (name.ends_with("merges.txt")) return {path.parent_path() / "vocab.json", path};
        return {path};
    }
    if (fs::exists(path / "vocab.json", ec) && fs::exists(path / "merges.txt", ec)) return {path / "vocab.json", path / "merges.txt"};
    if (fs::exists(path / "bpe_simple_vocab_16e6.txt.gz", ec)) return {path / "bpe_simple_vocab_16e6.txt.gz"};
    std::vector<fs::path> gz;
    for (const auto& e : fs::directory_iterator(path, ec))
        if (e.path().filename().string().ends_with(".txt.gz")) gz.push_back(e.path());
    return gz.size() == 1 ? gz : std::vector<fs::path>{};
}

std::string vocabularyHash(const std::string& vocabulary) {
    std::vector<std::string> hashes;
    for (const auto& f : vocabularyFiles(vocabulary)) hashes.push_back(io::hashFile(f.string()));
    return io::combineHashes(hashes);
}

}  // namespace

std::string findVocabulary(const kit::KitFile& kit, const std::string& towerFile) {
    if (!kit.vocabulary.empty()) {
        if (vocabularyFiles(kit.vocabulary).empty())
            throw FormatError(kit.path, "vocabulary: " + kit.vocabulary +
                                            " holds no CLIP tokenizer (vocab.json + merges.txt, bpe_simple_vocab_16e6.txt.gz, or one *.txt.gz)");
        return kit.vocabulary;
    }
    std::error_code ec;
    const fs::path p(towerFile);
    const fs::path dir = fs::is_directory(p, ec) ? p : p.parent_path();
    for (const fs::path& d : {dir, dir / "tokenizer"})
        if (fs::is_directory(d, ec) && !vocabularyFiles(d).empty()) return d.string();
    throw FormatError(kit.path.empty() ? towerFile : kit.path,
                      "a zero-shot head from class names needs CLIP's tokenizer vocabulary: none beside " + towerFile +
                          " (looked for vocab.json + merges.txt, open_clip's bpe_simple_vocab_16e6.txt.gz or one *.txt.gz, there and "
                          "in tokenizer/); name it with the kit's `vocabulary:` field");
}

ClassNameHead classNameHead(const kit::KitFile& kit, const kit::HeadSpec& head, const io::OpenOptions& open, const model::ParamMap* baseOthers) {
    const std::string tower = kit.textTower.empty() ? kit.base : kit.textTower;
    const std::string vocabulary = findVocabulary(kit, tower);
    const std::vector<std::string>& templates = headTemplates(head);
    // The key: what the embeddings depend on, by content.
    std::string key = "zeroshot-head|1|" + io::hashFile(tower) + "|" + vocabularyHash(vocabulary);
    for (const auto& c : head.classNames) key += "|c" + std::to_string(c.size()) + ":" + c;
    for (const auto& t : templates) key += "|t" + std::to_string(t.size()) + ":" + t;
    const std::string file = io::headCacheDir() + "/" + io::hashBytes(key.data(), key.size()) + ".safetensors";
    ClassNameHead out;
    out.source = "text tower of " + tower + ", " + std::to_string(templates.size()) + " template" + (templates.size() == 1 ? "" : "s") +
                 (head.templates.empty() ? " (" + (head.templateSet.empty() ? std::string("openai") : head.templateSet) + ")" : "");
    std::error_code ec;
    if (fs::exists(file, ec)) {
        try {
            const auto source = io::openCheckpoint(file);
            const auto it = source->metadata().find("mergescope.zeroshot");
            if (it != source->metadata().end() && it->second == key) {
                out.text = model::loadParams(*source).at("text");
                out.cached = true;
                io::touchCacheEntry(file);
                return out;
            }
        } catch (const std::exception&) {
            // damaged: made again and replaced
        }
    }
    const bool fromBase = baseOthers && kit.textTower.empty();
    const model::ParamMap raw = fromBase ? model::ParamMap() : model::loadParams(*io::openCheckpoint(tower, open));
    const model::ClipTextTower textTower = model::findTextTower(fromBase ? *baseOthers : raw, tower, model::configJsonFor(tower));
    const text::ClipTokenizer tokenizer = text::ClipTokenizer::load(vocabulary);
    if (tokenizer.vocabularySize() != static_cast<std::size_t>(textTower.params.at("token_embedding").size(0)))
        throw FormatError(vocabulary, "the vocabulary has " + std::to_string(tokenizer.vocabularySize()) + " tokens, the text tower of " + tower +
                                          " embeds " + std::to_string(textTower.params.at("token_embedding").size(0)));
    out.text = model::zeroShotClassifier(textTower, tokenizer, head.classNames, templates);
    fs::create_directories(io::headCacheDir(), ec);
    try {
        model::writeParams(file, {{"text", out.text}}, {{"mergescope.zeroshot", key}});
        io::enforceCacheCap(io::headCacheDir());
    } catch (const std::exception&) {
        // a read-only cache: the head is still made, only not kept
    }
    return out;
}

}  // namespace ms::core::eval
