// The HDF5 image-set format: written by h5py and by tools/images_to_hdf5.py, read by core.
#include "core/data/hdf5_image_set.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "core/errors.h"
#include "tests/test_support.h"

namespace ms::core::data {
namespace {

int runPython(const std::string& script, const std::string& args) {
    const std::string cmd = "/usr/bin/python3 " + script + " " + args + " > /dev/null 2>&1";
    return std::system(cmd.c_str());
}

TEST(Hdf5ImageSet, ReadsEveryPartWrittenByH5py) {
    test::TempDir tmp;
    const std::string script = tmp.path("make.py"), out = tmp.path("set.h5");
    std::ofstream(script) << R"(import sys, json, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["name"] = "toy"
    f.attrs["class_names"] = json.dumps(["a", "b", "c"])
    x = np.zeros((5, 2, 3, 3), dtype=np.float32); x[2, 1, 0, 2] = 0.5; x[4] = 1.0
    f.create_dataset("images", data=x)
    f.create_dataset("labels", data=np.array([0, 2, 1, 2, 0], dtype=np.int16))
    f.create_dataset("targets", data=np.arange(5 * 1 * 3 * 3, dtype=np.float32).reshape(5, 1, 3, 3))
    f.create_dataset("splits/train", data=np.array([0, 1, 2]))
    f.create_dataset("splits/test", data=np.array([3, 4]))
)";
    ASSERT_EQ(runPython(script, out), 0);
    const Hdf5ImageSet s = loadHdf5ImageSet(out);
    EXPECT_EQ(s.images.name, "toy");
    EXPECT_EQ(s.images.count, 5);
    EXPECT_EQ(s.images.channels, 2);
    EXPECT_EQ(s.images.height, 3);
    EXPECT_EQ(s.images.image(2)[9 + 2], 128);  // round(0.5 · 255)
    EXPECT_EQ(s.images.image(4)[0], 255);
    EXPECT_EQ(s.images.labels, (std::vector<std::int32_t>{0, 2, 1, 2, 0}));
    EXPECT_EQ(s.images.classes, 3);
    EXPECT_EQ(s.classNames, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(s.targetChannels, 1);
    EXPECT_EQ(s.targets[44], 44.0f);
    EXPECT_EQ(s.splits.at("test"), (std::vector<std::size_t>{3, 4}));
}

TEST(Hdf5ImageSet, ConverterTurnsAnImageFolderIntoASet) {
    test::TempDir tmp;
    const std::string make = tmp.path("make.py");
    std::ofstream(make) << R"(import os, sys
from PIL import Image
for c, n in [("cats", 5), ("dogs", 5)]:
    os.makedirs(os.path.join(sys.argv[1], c))
    for i in range(n):
        Image.new("L", (40, 30), color=20 * i).save(os.path.join(sys.argv[1], c, f"{i}.png"))
open(os.path.join(sys.argv[1], "cats", "notes.txt"), "w").write("not an image")
)";
    ASSERT_EQ(runPython(make, tmp.path("folder")), 0);
    ASSERT_EQ(runPython(std::string(MS_SOURCE_DIR) + "/tools/images_to_hdf5.py",
                        tmp.path("folder") + " " + tmp.path("out.h5") + " --size 28 --gray --test-fraction 0.4"), 0);
    const Hdf5ImageSet s = loadHdf5ImageSet(tmp.path("out.h5"));
    EXPECT_EQ(s.images.count, 10);
    EXPECT_EQ(s.images.height, 28);
    EXPECT_EQ(s.images.channels, 1);
    EXPECT_EQ(s.classNames, (std::vector<std::string>{"cats", "dogs"}));
    EXPECT_EQ(s.splits.at("test").size(), 4u);
    EXPECT_EQ(s.splits.at("train").size(), 6u);
    EXPECT_EQ(s.images.image(3)[0], 60);  // cats/3.png has gray value 60 everywhere
}

TEST(Hdf5ImageSet, BadFilesNameTheDataset) {
    test::TempDir tmp;
    const std::string script = tmp.path("bad.py"), out = tmp.path("bad.h5");
    std::ofstream(script) << R"(import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("images", data=np.zeros((3, 4, 4), dtype=np.uint8))
    f.create_dataset("labels", data=np.array([0, 1]))
)";
    ASSERT_EQ(runPython(script, out), 0);
    try {
        loadHdf5ImageSet(out);
        FAIL();
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("/labels must be [N] with N = 3"), std::string::npos) << e.what();
    }
    EXPECT_THROW(loadHdf5ImageSet(tmp.path("missing.h5")), IoError);
}

}  // namespace
}  // namespace ms::core::data
