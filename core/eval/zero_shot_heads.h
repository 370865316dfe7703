// Zero-shot heads a kit asks for by class names (`head: {classes, templates}`): the class-name
// embeddings [classes, P] from CLIP's text tower (the kit's `text_tower`, else the base) and its
// byte-level BPE vocabulary (the kit's `vocabulary`, else found beside the text tower: HF
// vocab.json + merges.txt, or open_clip's bpe_simple_vocab_16e6.txt.gz), cached by the hashes of
// the text tower's file and the vocabulary, the class names and the templates.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/io/source_factory.h"
#include "core/kit/kit_file.h"
#include "core/model/vit.h"

namespace ms::core::eval {

struct ClassNameHead {
    at::Tensor text;         // [classes, P], each row unit-norm
    std::string source;      // "text tower of FILE, VOCABULARY, N templates (openai)"
    bool cached = false;     // read from the cache rather than computed
};

// The templates a head spec names or lists.
const std::vector<std::string>& headTemplates(const kit::HeadSpec& head);

// Throws FormatError / IoError naming the file at fault (no text tower, no vocabulary, ...).
// `baseOthers`: the base's tensors outside its encoder (model::Encoder::others), where the text
// tower is when the kit names no `text_tower`: the base file is then not read a second time.
ClassNameHead classNameHead(const kit::KitFile& kit, const kit::HeadSpec& head, const io::OpenOptions& open = {},
                            const model::ParamMap* baseOthers = nullptr);

// The vocabulary a kit's heads from class names use: its `vocabulary`, else a folder beside the
// text tower (or its tokenizer/ sub-folder) holding vocab.json + merges.txt, open_clip's
// bpe_simple_vocab_16e6.txt.gz or one *.txt.gz (ClipTokenizer::load's rules). Throws FormatError
// naming where it looked, or the kit's `vocabulary` when it holds none.
std::string findVocabulary(const kit::KitFile& kit, const std::string& textTowerFile);

}  // namespace ms::core::eval
