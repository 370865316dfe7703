#include "core/io/prefixed_source.h"

#include <map>
#include <unordered_set>

namespace ms::core::io {

namespace {

class PrefixedSource final : public TensorSource {
public:
    PrefixedSource(std::unique_ptr<TensorSource> inner, const PrefixChange& c) : TensorSource(inner->path()), m_inner(std::move(inner)) {
        for (const auto& t : m_inner->tensors()) {
            if (!t.name.starts_with(c.strip)) continue;
            TensorInfo info = t;
            info.name = c.add + t.name.substr(c.strip.size());
            m_original[info.name] = t.name;
            addTensor(std::move(info));
        }
        m_metadata = m_inner->metadata();
    }
    std::string_view format() const override { return m_inner->format(); }
    void release(const std::string& name) const override { m_inner->release(m_original.at(name)); }
    std::vector<std::string> files() const override { return m_inner->files(); }

protected:
    TensorData loadImpl(const TensorInfo& info) const override { return m_inner->load(m_original.at(info.name)); }

private:
    std::unique_ptr<TensorSource> m_inner;
    std::map<std::string, std::string> m_original;
};

}  // namespace

PrefixChange alignPrefixes(const TensorSource& base, const TensorSource& file) {
    std::unordered_set<std::string> names;
    for (const auto& t : base.tensors()) names.insert(t.name);
    std::size_t same = 0;
    for (const auto& t : file.tensors()) same += names.count(t.name);
    if (file.tensors().empty() || 2 * same >= file.tensors().size()) return {};
    // Candidate changes from the first tensors: a base name that is this name under another
    // prefix (either may be longer), split at a dot.
    std::map<std::pair<std::string, std::string>, std::size_t> votes;
    std::size_t looked = 0;
    for (const auto& t : file.tensors()) {
        if (looked++ == 64) break;
        const std::string& e = t.name;
        for (const auto& b : names) {
            // The longest common dotted suffix of b and e.
            std::size_t i = b.size(), j = e.size();
            while (i > 0 && j > 0 && b[i - 1] == e[j - 1]) --i, --j;
            // Back up to a component boundary.
            while (i < b.size() && !(i == 0 || b[i - 1] == '.')) ++i, ++j;
            if (i >= b.size() || (j > 0 && e[j - 1] != '.')) continue;
            if (b.size() - i < 8) continue;  // "weight", "bias": too short to tell
            ++votes[{e.substr(0, j), b.substr(0, i)}];
        }
    }
    PrefixChange best;
    std::size_t bestMatches = same;
    for (const auto& [change, n] : votes) {
        std::size_t matches = 0;
        for (const auto& t : file.tensors())
            if (t.name.starts_with(change.first) && names.count(change.second + t.name.substr(change.first.size()))) ++matches;
        if (matches > bestMatches) bestMatches = matches, best = {change.first, change.second};
    }
    return best;
}

std::unique_ptr<TensorSource> withPrefix(std::unique_ptr<TensorSource> file, const PrefixChange& change) {
    if (change.identity()) return file;
    return std::make_unique<PrefixedSource>(std::move(file), change);
}

}  // namespace ms::core::io
