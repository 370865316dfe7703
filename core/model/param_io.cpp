#include "core/model/param_io.h"

namespace ms::core::model {

ParamMap loadParams(const io::TensorSource& source, const std::string& stripPrefix) {
    ParamMap out;
    for (const auto& t : source.tensors()) {
        if (!io::isFloating(t.dtype)) continue;
        std::string name = t.name;
        if (!stripPrefix.empty()) {
            if (name.rfind(stripPrefix, 0) != 0) continue;
            name = name.substr(stripPrefix.size());
        }
        at::Tensor dst = at::empty(std::vector<std::int64_t>(t.shape.begin(), t.shape.end()), at::kFloat);
        const io::TensorData d = source.load(t.name);
        io::toFloat32(t.dtype, d.data(), dst.data_ptr<float>(), t.numel);
        out[name] = dst;
    }
    return out;
}

at::Tensor viewFloats(const float* data, const std::vector<std::int64_t>& shape) {
    return at::from_blob(const_cast<float*>(data), shape, at::TensorOptions().dtype(at::kFloat));
}

}  // namespace ms::core::model
