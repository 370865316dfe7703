// The device an encoder runs on: --device auto|cpu|cuda[:N] (sweep, relations, merge --kit,
// kit check). This version runs encoders on the CPU only: `cuda` is refused with exit 2 and a
// message that says what the LibTorch this build found has (CUDA or not, how many GPUs), and
// `auto` is the CPU. docs/cluster.md says how to build against a CUDA LibTorch.
#pragma once

#include <string>

namespace ms::core::model {

struct DeviceChoice {
    std::string name = "cpu";  // what runs: "cpu"
    std::string note;          // why, when the request was not taken literally ("auto: ...")
};

// Throws InvalidArgument for an unknown name, and for cuda (see above), naming what was found.
DeviceChoice resolveDevice(const std::string& request);

// "LibTorch 1.13.1, CPU only" / "LibTorch 1.13.1 with CUDA, 2 GPUs"
std::string torchBuildText();

}  // namespace ms::core::model
