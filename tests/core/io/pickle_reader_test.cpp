// The restricted unpickler on pickles made by Python's own pickle module (hex below, with the
// Python that made them), and on hostile structures that must fail cleanly or stay harmless.
#include "core/io/pickle_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/errors.h"

namespace ms::core::io::pickle {
namespace {

// pickle.dumps({k: 1, "b": [300, -2, 3.5, True, None, k], "c": "x"}, protocol=2), k = "a"
constexpr const char* kValuesAndMemo = "80027d71002858010000006171014b0158010000006271025d7103284d2c014afeffffff47400c000000000000884e68016558010000006371045801000000787105752e";
// LONG1 of 2 bytes 00 80 (= -32768); pickle.dumps(2**70, protocol=2)
constexpr const char* kLong1Negative = "80028a0200802e";
constexpr const char* kLong1Huge = "80028a090000000000000000402e";
// pickle.dumps(obj, protocol=2) where obj.__reduce__ returns (os.system, ("echo",))
constexpr const char* kOsSystem = "800263706f7369780a73797374656d0a710058040000006563686f71018571025271032e";
// pickle.dumps(eval, protocol=2): protocol 2 names the module __builtin__
constexpr const char* kEval = "8002635f5f6275696c74696e5f5f0a6576616c0a71002e";
// pickle.dumps(os.system, protocol=4): STACK_GLOBAL
constexpr const char* kStackGlobal = "80049514000000000000008c05706f736978948c0673797374656d9493942e";
// Made with pickle.dumps(obj, protocol=p) for classes of a module "pkg.mod":
// Plain() with a = 1, name = "x", protocol 1: copy_reg._reconstructor(Plain, object, None), BUILD
constexpr const char* kReconstructor = "63636f70795f7265670a5f7265636f6e7374727563746f720a71002863706b672e6d6f640a506c61696e0a7101635f5f6275696c74696e5f5f0a6f626a6563740a71024e7471035271047d71052858010000006171064b0158040000006e616d657107580100000078710875622e";
// Slotted() (__slots__ = ("s",), s = 2), protocol 2: BUILD with the state (None, {"s": 2})
constexpr const char* kSlots = "800263706b672e6d6f640a536c6f747465640a7100298171014e7d710258010000007371034b0273867104622e";
// WithNewArgs() (__getnewargs_ex__ -> ((7,), {"k": 8}), b = 3), protocol 4: NEWOBJ_EX, BUILD
constexpr const char* kNewObjEx = "80049534000000000000008c07706b672e6d6f64948c0b576974684e6577417267739493944b0785947d948c016b944b087392947d948c0162944b0373622e";
// MyDict(k=1) (a dict subclass), protocol 2: NEWOBJ, then SETITEM on the instance
constexpr const char* kDictSubclass = "800263706b672e6d6f640a4d79446963740a71002981710158010000006b71024b01732e";
// [Other(), Evil(), Plain(), Other()], Evil reducing to os.system("true"), protocol 2
constexpr const char* kThreeGlobals = "80025d71002863706b672e6d6f640a4f746865720a71012981710263706f7369780a73797374656d0a7103580400000074727565710485710552710663706b672e6d6f640a506c61696e0a7107298171087d710928580100000061710a4b0158040000006e616d65710b580100000078710c756268012981710d652e";
// GLOBAL torch._utils _rebuild_qtensor, STOP
constexpr const char* kQTensor = "800263746f7263682e5f7574696c730a5f72656275696c645f7174656e736f720a2e";
// l = []; l.append(l)
constexpr const char* kCycle = "80025d71006800612e";
// torch.save's tensor (checked with pickletools.dis): _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 4), offset,
// (3,), (1,), False, OrderedDict()) with offset 2 (reaches element 4: outside) and 1 (inside).
constexpr const char* kViewOutside = "800263746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a2828580700000073746f7261676563746f7263680a466c6f617453746f726167650a58010000003058030000006370754b0474514b024b03854b01858963636f6c6c656374696f6e730a4f726465726564446963740a295274522e";
constexpr const char* kViewInside = "800263746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a2828580700000073746f7261676563746f7263680a466c6f617453746f726167650a58010000003058030000006370754b0474514b014b03854b01858963636f6c6c656374696f6e730a4f726465726564446963740a295274522e";

std::string fromHex(const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

Ref parse(Unpickler& u, const std::string& bytes) {
    return u.load(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
}

std::string errorOfHex(const std::string& hex, UnpicklerOptions o = {}) {
    Unpickler u("test.pkl", std::move(o));
    try {
        parse(u, fromHex(hex));
    } catch (const FormatError& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(Unpickler, ReadsScalarsContainersAndMemo) {
    Unpickler u("t");
    Ref root = parse(u, fromHex(kValuesAndMemo));
    ASSERT_EQ(root->kind, Kind::Dict);
    ASSERT_EQ(root->entries.size(), 3u);
    EXPECT_EQ(root->entries[0].first->text, "a");
    EXPECT_EQ(root->entries[0].second->integer, 1);
    const Object& list = *root->entries[1].second;
    ASSERT_EQ(list.kind, Kind::List);
    ASSERT_EQ(list.items.size(), 6u);
    EXPECT_EQ(list.items[0]->integer, 300);
    EXPECT_EQ(list.items[1]->integer, -2);
    EXPECT_DOUBLE_EQ(list.items[2]->real, 3.5);
    EXPECT_TRUE(list.items[3]->boolean);
    EXPECT_EQ(list.items[4]->kind, Kind::None);
    EXPECT_EQ(list.items[5], root->entries[0].first);  // BINGET: the same memoised object
    EXPECT_EQ(root->entries[2].second->text, "x");
}

TEST(Unpickler, Long1HandlesNegativeAndLargeValues) {
    Unpickler u("t");
    EXPECT_EQ(parse(u, fromHex(kLong1Negative))->integer, -32768);
    Unpickler u2("t");
    EXPECT_EQ(parse(u2, fromHex(kLong1Huge))->kind, Kind::Opaque);  // beyond 64 bits: inert
}

TEST(Unpickler, RefusesGlobalsOutsideTheAllowList) {
    const std::string m = errorOfHex(kOsSystem);
    EXPECT_NE(m.find("refused global 'posix.system'"), std::string::npos) << m;
    EXPECT_NE(m.find("test.pkl"), std::string::npos) << m;
    EXPECT_NE(m.find("--pickle-allow"), std::string::npos) << m;
    const std::string m2 = errorOfHex(kEval);
    EXPECT_NE(m2.find("refused global 'builtins.eval'"), std::string::npos) << m2;
    const std::string m3 = errorOfHex(kStackGlobal);
    EXPECT_NE(m3.find("refused global 'posix.system'"), std::string::npos) << m3;
}

TEST(Unpickler, InertGlobalsAreNeverCalled) {
    UnpicklerOptions o;
    o.inertGlobals = {"posix.system"};
    Unpickler u("t", o);
    Ref r = parse(u, fromHex(kOsSystem));
    EXPECT_EQ(r->kind, Kind::Instance);  // REDUCE made a placeholder; nothing ran
    EXPECT_EQ(r->text, "posix.system");
    ASSERT_EQ(r->items.size(), 1u);  // the arguments, kept as data
    EXPECT_EQ(r->items[0]->text, "echo");
    EXPECT_EQ(u.placeholderClasses(), std::vector<std::string>{"posix.system"});
}

TEST(Unpickler, ARefusalListsEveryGlobalOutsideTheAllowList) {
    const std::string m = errorOfHex(kThreeGlobals);
    EXPECT_NE(m.find("refused globals 'pkg.mod.Other', 'pkg.mod.Plain', 'posix.system'"),
              std::string::npos) << m;
    EXPECT_NE(m.find("--pickle-allow pkg.mod.Other --pickle-allow pkg.mod.Plain "
                     "--pickle-allow posix.system"), std::string::npos) << m;
    EXPECT_NE(m.find("pickle_allow: [pkg.mod.Other, pkg.mod.Plain, posix.system]"),
              std::string::npos) << m;
    EXPECT_NE(m.find("test.pkl"), std::string::npos) << m;
    // Allowing some leaves the others listed.
    UnpicklerOptions o;
    o.inertGlobals = {"pkg.mod.*"};
    const std::string m2 = errorOfHex(kThreeGlobals, o);
    EXPECT_NE(m2.find("refused global 'posix.system':"), std::string::npos) << m2;
    EXPECT_EQ(m2.find("pkg.mod"), std::string::npos) << m2;
}

TEST(Unpickler, AllowPatternsAreExactNamesModuleGlobsOrAll) {
    EXPECT_TRUE(globalPatternMatches("*", "posix.system"));
    EXPECT_TRUE(globalPatternMatches("open_clip.*", "open_clip.model.CLIP"));
    EXPECT_TRUE(globalPatternMatches("open_clip.model.*", "open_clip.model.CLIP"));
    EXPECT_FALSE(globalPatternMatches("open_clip.*", "open_clipx.CLIP"));
    EXPECT_FALSE(globalPatternMatches("open_clip.*", "open_clip"));
    EXPECT_TRUE(globalPatternMatches("src.heads.ClassificationHead", "src.heads.ClassificationHead"));
    EXPECT_FALSE(globalPatternMatches("src.heads.Classification", "src.heads.ClassificationHead"));
    EXPECT_FALSE(globalPatternMatches(".*", "a.b"));
    const auto allowed = allowedGlobals();
    EXPECT_NE(std::find(allowed.begin(), allowed.end(), "torch.nn.modules.*"), allowed.end());
}

TEST(Unpickler, InstancesKeepTheirClassAndBuildState) {
    UnpicklerOptions o;
    o.inertGlobals = {"pkg.mod.*"};
    {  // protocol 1: copyreg._reconstructor(cls, object, None), then BUILD with __dict__
        Unpickler u("t", o);
        Ref r = parse(u, fromHex(kReconstructor));
        ASSERT_EQ(r->kind, Kind::Instance);
        EXPECT_EQ(r->text, "pkg.mod.Plain");
        ASSERT_EQ(r->entries.size(), 2u);
        EXPECT_EQ(r->entries[0].first->text, "a");
        EXPECT_EQ(r->entries[0].second->integer, 1);
        EXPECT_EQ(r->entries[1].second->text, "x");
    }
    {  // BUILD with a (None, slots) tuple
        Unpickler u("t", o);
        Ref r = parse(u, fromHex(kSlots));
        ASSERT_EQ(r->kind, Kind::Instance);
        ASSERT_EQ(r->entries.size(), 1u);
        EXPECT_EQ(r->entries[0].first->text, "s");
        EXPECT_EQ(r->entries[0].second->integer, 2);
    }
    {  // NEWOBJ_EX: the arguments are data, BUILD the state
        Unpickler u("t", o);
        Ref r = parse(u, fromHex(kNewObjEx));
        ASSERT_EQ(r->kind, Kind::Instance);
        EXPECT_EQ(r->text, "pkg.mod.WithNewArgs");
        ASSERT_EQ(r->items.size(), 1u);
        EXPECT_EQ(r->items[0]->integer, 7);
        ASSERT_EQ(r->entries.size(), 1u);
        EXPECT_EQ(r->entries[0].second->integer, 3);
    }
    {  // SETITEM on an instance of a dict subclass is a no-op
        Unpickler u("t", o);
        Ref r = parse(u, fromHex(kDictSubclass));
        ASSERT_EQ(r->kind, Kind::Instance);
        EXPECT_TRUE(r->entries.empty());
    }
}

TEST(Unpickler, BuildOnAnythingButAnInstanceIsIgnored) {
    // {} then BUILD with {"a": 1}: the dict stays empty (nothing's __setstate__ runs).
    Unpickler u("t");
    Ref r = parse(u, fromHex("80027d7d58010000006171004b0173622e"));
    ASSERT_EQ(r->kind, Kind::Dict);
    EXPECT_TRUE(r->entries.empty());
}

TEST(Unpickler, KnownButUnsupportedGlobalsSayWhy) {
    const std::string m = errorOfHex(kQTensor);
    EXPECT_NE(m.find("quantized tensors are not supported"), std::string::npos) << m;
}

TEST(Unpickler, DeepNestingDoesNotOverflowTheStack) {
    // 200,000 nested lists [[[...]]]: EMPTY_LIST × n, then APPEND × (n-1).
    const int depth = 200000;
    std::string p = fromHex("8002") + std::string(depth, ']') + std::string(depth - 1, 'a') + ".";
    Unpickler u("t");
    EXPECT_EQ(parse(u, p)->kind, Kind::List);
}

TEST(Unpickler, SelfReferencingCycleIsHarmless) {
    Unpickler u("t");
    Ref r = parse(u, fromHex(kCycle));
    ASSERT_EQ(r->items.size(), 1u);
    EXPECT_EQ(r->items[0], r);
}

TEST(Unpickler, MalformedStreamsFailWithAReason) {
    EXPECT_NE(errorOfHex("80025d").find("without a STOP"), std::string::npos);
    EXPECT_NE(errorOfHex("800258ffffff7f").find("exceeds the data"), std::string::npos);
    EXPECT_NE(errorOfHex("8002612e").find("stack underflow"), std::string::npos);
    EXPECT_NE(errorOfHex("800268052e").find("memo key 5"), std::string::npos);
    EXPECT_NE(errorOfHex("8002ff2e").find("unknown opcode 0xff"), std::string::npos);
    EXPECT_NE(errorOfHex("80024b014b022e").find("STOP with a malformed stack"), std::string::npos);
    EXPECT_NE(errorOfHex("800229522e").find("stack underflow"), std::string::npos);
    EXPECT_NE(errorOfHex("800263666f6f").find("truncated (unterminated text line)"), std::string::npos);
    EXPECT_NE(errorOfHex("").find("without a STOP"), std::string::npos);
}

TEST(Unpickler, TensorViewsOutsideTheirStorageAreRejected) {
    const std::string m = errorOfHex(kViewOutside);
    EXPECT_NE(m.find("view reaches element 4 of a storage with 4 elements"), std::string::npos) << m;
    Unpickler u("t");
    Ref t = parse(u, fromHex(kViewInside));
    ASSERT_EQ(t->kind, Kind::Tensor);
    EXPECT_EQ(t->tensor.offset, 1u);
    EXPECT_EQ(t->tensor.size, std::vector<std::int64_t>{3});
    EXPECT_EQ(t->tensor.dtype, DType::F32);
    EXPECT_EQ(t->tensor.storage->storage.key, "0");
    EXPECT_EQ(t->tensor.storage->storage.numel, 4u);
}

}  // namespace
}  // namespace ms::core::io::pickle
