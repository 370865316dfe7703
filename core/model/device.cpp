#include "core/model/device.h"

#include <torch/cuda.h>
#include <torch/version.h>

#include <regex>

#include "core/errors.h"

namespace ms::core::model {

std::string torchBuildText() {
    std::string s = "LibTorch " TORCH_VERSION;
    if (!torch::cuda::is_available()) return s + ", CPU only (no CUDA in this LibTorch, or no GPU and driver found)";
    return s + " with CUDA, " + std::to_string(torch::cuda::device_count()) + " GPU(s)";
}

DeviceChoice resolveDevice(const std::string& request) {
    if (request == "cpu" || request.empty()) return {};
    if (request == "auto") return {"cpu", "auto: the CPU (this version runs encoders on the CPU)"};
    static const std::regex cuda(R"(cuda(:([0-9]+))?)");
    std::smatch m;
    if (!std::regex_match(request, m, cuda))
        throw InvalidArgument("--device " + request + ": expected auto, cpu, cuda or cuda:N");
    if (!torch::cuda::is_available())
        throw InvalidArgument("--device " + request + ": this build has no GPU to run on: " + torchBuildText() +
                              ". Use --device cpu (or auto); to use a GPU, build MergeScope against a CUDA LibTorch "
                              "(-DTorch_DIR=..., docs/cluster.md)");
    throw InvalidArgument("--device " + request + ": " + torchBuildText() +
                          ", but this version of MergeScope runs encoders on the CPU only; use --device cpu");
}

}  // namespace ms::core::model
