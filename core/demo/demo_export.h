// The demo kit written out as a user's kit would look: a kit file (kit: 1), the base and experts
// in another weight layout with a config.json beside them, heads in files of their own, images
// as PNG files (ImageFolder trees for training images, CSV lists for eval splits), segmentation
// masks as 8-bit PNGs and edge maps as 16-bit PNGs with the images' file names. The demo is then
// one producer of kits: everything a user kit goes through (layouts, heads, decoding, targets)
// is exercised by it, and its experts must score what the demo manifest says.
#pragma once

#include <string>

#include "core/jobs/progress.h"

namespace ms::core::demo {

struct ExportOptions {
    std::string kitDir;             // a built demo kit
    std::string outDir;             // created; must not exist or be empty
    std::string layout = "hf_dinov2";  // timm or hf_dinov2 (the demo's encoder has a patch bias; CLIP's has none)
    int trainImages = 1000;         // per data set, the first of each training split
    int evalImages = 0;             // per data set; 0: the kit's eval split (its eval limit, or the whole split)
    std::string fashionDir, digitsDir;  // empty: the defaults
    // png: ImageFolder trees and CSV lists of PNGs, 8-bit masks, 16-bit edge maps;
    // npy: the NYUv2 .npy release's layout, per data set `{train,val}/{image,label,edges}/{i}.npy`
    //      (images H×W×1 float in [0, 1], labels H×W float, edge maps H×W×1 float) with
    //      `{train,val}/list.csv` (image path, class) for the classification tasks.
    std::string format = "png";
};

// Returns the kit file written. Throws InvalidArgument/OutputError.
std::string exportDemoKit(const ExportOptions& options, ProgressSink& progress = nullProgress(),
                          const CancelToken* cancel = nullptr);

}  // namespace ms::core::demo
