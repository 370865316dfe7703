// Prompt templates of zero-shot classification heads: a class name becomes sentences ("a photo
// of a {}.") whose text embeddings, averaged, make the class's weight vector (OpenAI's CLIP paper,
// section 3.1.4; notebooks/Prompt_Engineering_for_ImageNet.ipynb in openai/CLIP).
#pragma once

#include <string>
#include <vector>

namespace ms::core::text {

// "openai": the 80 ImageNet templates of OpenAI's CLIP, exact and in order ("{}" is the class
// name); "simple": {"a photo of a {}."}. Throws InvalidArgument naming the known sets.
const std::vector<std::string>& templateSet(const std::string& name);
std::vector<std::string> templateSetNames();

// The template with every "{}" replaced by the class name.
std::string applyTemplate(const std::string& tmpl, const std::string& className);

}  // namespace ms::core::text
