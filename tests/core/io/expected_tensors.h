// Compares a TensorSource against the values make_fixtures.py recorded with PyTorch.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "core/io/tensor_source.h"

namespace ms::test {

inline void expectMatchesFixture(const core::io::TensorSource& src, const nlohmann::json& expected) {
    const auto& tensors = expected.at("tensors");
    EXPECT_EQ(src.tensors().size(), tensors.size()) << src.path();
    for (const auto& [name, e] : tensors.items()) {
        SCOPED_TRACE(src.path() + " : " + name);
        const auto* info = src.find(name);
        ASSERT_NE(info, nullptr) << "missing tensor";
        EXPECT_EQ(std::string(core::io::dtypeName(info->dtype)), e.at("dtype").get<std::string>());
        EXPECT_EQ(info->shape, e.at("shape").get<std::vector<std::int64_t>>());
        const auto want = e.at("values").get<std::vector<double>>();
        ASSERT_EQ(info->numel, want.size());
        if (info->dtype == core::io::DType::I64 || info->dtype == core::io::DType::F64) {
            // Beyond float32 precision: compare the raw values.
            const auto d = src.load(name);
            for (std::size_t i = 0; i < want.size(); ++i) {
                double v;
                if (info->dtype == core::io::DType::I64) {
                    std::int64_t x;
                    std::memcpy(&x, d.data() + 8 * i, 8);
                    v = static_cast<double>(x);
                } else {
                    std::memcpy(&v, d.data() + 8 * i, 8);
                }
                EXPECT_EQ(v, want[i]) << "element " << i;
            }
        } else {
            const auto got = src.loadFloat32(name);
            for (std::size_t i = 0; i < want.size(); ++i)
                EXPECT_EQ(static_cast<double>(got[i]), want[i]) << "element " << i;
        }
    }
}

}  // namespace ms::test
