#include "core/model/param_io.h"

#include "core/io/mapped_file.h"

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
        const std::vector<std::int64_t> shape(t.shape.begin(), t.shape.end());
        const io::TensorData d = source.load(t.name);
        if (t.dtype == io::DType::F32 && t.numel > 0 && d.size() == t.numel * sizeof(float) &&
            reinterpret_cast<std::uintptr_t>(d.data()) % alignof(float) == 0) {
            // The tensor keeps the bytes' owner (the mapping) alive; never written.
            auto keep = std::make_shared<io::TensorData>(d);
            out[name] = at::from_blob(const_cast<std::byte*>(d.data()), shape, [keep](void*) mutable { keep.reset(); },
                                      at::TensorOptions().dtype(at::kFloat));
            continue;
        }
        at::Tensor dst = at::empty(shape, at::kFloat);
        io::toFloat32(t.dtype, d.data(), dst.data_ptr<float>(), t.numel);
        out[name] = dst;
    }
    return out;
}

void releaseResident(const ParamMap& params) {
    for (const auto& [name, t] : params)
        if (t.defined() && t.numel() > 0 && t.is_contiguous() && t.device().is_cpu())
            io::MappedFile::releaseMapped(t.data_ptr(), static_cast<std::uint64_t>(t.nbytes()));
}

std::vector<at::Tensor> makeTrainable(ParamMap& params) {
    std::vector<at::Tensor> out;
    for (auto& [n, t] : params) {
        // Batch-norm running statistics are state, updated in place by training-mode forwards.
        if (n.find("running_") != std::string::npos) {
            t = t.detach().clone();
            continue;
        }
        t = t.detach().clone().requires_grad_(true);
        out.push_back(t);
    }
    return out;
}

at::Tensor viewFloats(const float* data, const std::vector<std::int64_t>& shape) {
    return at::from_blob(const_cast<float*>(data), shape, at::TensorOptions().dtype(at::kFloat));
}

}  // namespace ms::core::model

#include <cstring>

#include "core/io/checkpoint_writer.h"

namespace ms::core::model {

void writeParams(const std::string& path, const ParamMap& params, const io::Metadata& metadata) {
    std::vector<io::TensorToWrite> specs;
    std::vector<at::Tensor> tensors;
    for (const auto& [name, t] : params) {
        specs.push_back({name, io::DType::F32, t.sizes().vec()});
        tensors.push_back(t.detach().to(at::kFloat).contiguous());
    }
    io::WriteOptions opts;
    opts.metadata = metadata;
    io::writeSafetensors(path, specs, [&](std::size_t i, std::byte* dst) {
        if (tensors[i].numel() > 0) std::memcpy(dst, tensors[i].data_ptr<float>(), static_cast<std::size_t>(tensors[i].numel()) * 4);
    }, opts);
}

}  // namespace ms::core::model
