// Registration of the built-in merge methods, grouped by family (one file per family).
#pragma once

#include <memory>
#include <vector>

#include "core/merge/merge_method.h"

namespace ms::core::merge {

void addGtaMethods(std::vector<std::unique_ptr<MergeMethod>>& out);          // gta_merge.cpp
void addMaskMethods(std::vector<std::unique_ptr<MergeMethod>>& out);         // mask_merge.cpp
void addInterpolationMethods(std::vector<std::unique_ptr<MergeMethod>>& out);  // interpolation_merge.cpp
void addLearnedMethods(std::vector<std::unique_ptr<MergeMethod>>& out);      // learned_methods.cpp
void addSubspaceMethods(std::vector<std::unique_ptr<MergeMethod>>& out);     // subspace_merge.cpp
void addPcbMethods(std::vector<std::unique_ptr<MergeMethod>>& out);          // pcb_merge.cpp

}  // namespace ms::core::merge
