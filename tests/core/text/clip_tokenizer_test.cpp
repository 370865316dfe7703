// CLIP's tokenizer against an independent Python implementation of OpenAI's
// (tests/fixtures/text/make_tokenizer_fixtures.py): a reduced vocabulary in both file formats,
// ids compared exactly for ~400 class names chosen to reach every cleaning step.
#include "core/text/clip_tokenizer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/errors.h"
#include "core/text/html_unescape.h"
#include "tests/test_support.h"

namespace ms::core::text {
namespace {

const nlohmann::json& expected() {
    static const nlohmann::json j = [] {
        std::ifstream in(ms::test::fixture("text/expected.json"));
        return nlohmann::json::parse(in);
    }();
    return j;
}

void write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

void expectMatchesFixture(const ClipTokenizer& tok) {
    const nlohmann::json& e = expected();
    EXPECT_EQ(tok.vocabularySize(), e["vocabulary_size"].get<std::size_t>());
    EXPECT_EQ(tok.startToken(), e["start"].get<int>());
    EXPECT_EQ(tok.endToken(), e["end"].get<int>());
    for (const char* group : {"names", "templates"}) {
        for (const nlohmann::json& c : e[group]) {
            const std::string text = c["text"];
            EXPECT_EQ(tok.encode(text), c["encode"].get<std::vector<int>>()) << "text: " << text;
            EXPECT_EQ(tok.tokenize(text), c["tokenize77"].get<std::vector<int>>())
                << "text: " << text;
        }
    }
}

TEST(ClipTokenizer, NormalizesAsOpenAiWithFtfy) {
    for (const nlohmann::json& c : expected()["names"])
        EXPECT_EQ(clipNormalize(c["text"]), c["normalized"].get<std::string>())
            << "text: " << c["text"];
}

TEST(ClipTokenizer, OpenClipFileMatchesReference) {
    const ClipTokenizer tok =
        ClipTokenizer::fromOpenClip(ms::test::fixture("text/bpe_reduced.txt.gz"));
    EXPECT_EQ(tok.sourceDescription(),
              "open_clip bpe_reduced.txt.gz (" + std::to_string(tok.vocabularySize()) + " tokens)");
    expectMatchesFixture(tok);
}

TEST(ClipTokenizer, HuggingFaceFilesMatchReference) {
    const ClipTokenizer tok = ClipTokenizer::fromHf(ms::test::fixture("text/vocab.json"),
                                                    ms::test::fixture("text/merges.txt"));
    EXPECT_NE(tok.sourceDescription().find("vocab.json + merges.txt"), std::string::npos);
    expectMatchesFixture(tok);
}

TEST(ClipTokenizer, LoadFindsEitherFormat) {
    // The fixture folder holds both: Hugging Face's files win.
    EXPECT_NE(
        ClipTokenizer::load(ms::test::fixture("text")).sourceDescription().find("Hugging Face"),
        std::string::npos);
    EXPECT_NE(ClipTokenizer::load(ms::test::fixture("text/merges.txt"))
                  .sourceDescription()
                  .find("Hugging Face"),
              std::string::npos);
    expectMatchesFixture(ClipTokenizer::load(ms::test::fixture("text/vocab.json")));
    expectMatchesFixture(ClipTokenizer::load(ms::test::fixture("text/bpe_reduced.txt.gz")));

    ms::test::TempDir dir;  // a folder with only the .gz; then the same merges uncompressed
    std::filesystem::copy_file(ms::test::fixture("text/bpe_reduced.txt.gz"),
                               dir.path("bpe_reduced.txt.gz"));
    EXPECT_NE(ClipTokenizer::load(dir.dir().string()).sourceDescription().find("open_clip"),
              std::string::npos);
    std::ifstream merges(ms::test::fixture("text/merges.txt"));
    std::string plain((std::istreambuf_iterator<char>(merges)), std::istreambuf_iterator<char>());
    write(dir.path("plain.txt"), plain);
    expectMatchesFixture(ClipTokenizer::fromOpenClip(dir.path("plain.txt")));
}

TEST(ClipTokenizer, HuggingFaceIdsAreTakenAsWritten) {
    ms::test::TempDir dir;
    std::ifstream in(ms::test::fixture("text/vocab.json"));
    nlohmann::json vocab = nlohmann::json::parse(in);
    for (auto& [token, id] : vocab.items()) id = id.get<int>() + 1000;
    write(dir.path("vocab.json"), vocab.dump());
    std::filesystem::copy_file(ms::test::fixture("text/merges.txt"), dir.path("merges.txt"));
    const ClipTokenizer tok = ClipTokenizer::load(dir.dir().string());
    EXPECT_EQ(tok.startToken(), expected()["start"].get<int>() + 1000);
    EXPECT_EQ(tok.vocabularySize(), expected()["vocabulary_size"].get<std::size_t>() + 1000);
    for (const nlohmann::json& c : expected()["templates"]) {
        std::vector<int> ids = c["encode"];
        for (int& id : ids) id += 1000;
        EXPECT_EQ(tok.encode(c["text"]), ids);
    }
}

TEST(ClipTokenizer, TokenizeTruncatesWithEndToken) {
    const ClipTokenizer tok = ClipTokenizer::load(ms::test::fixture("text"));
    const std::vector<int> ids = tok.encode("a photo of a cat.");
    ASSERT_GE(ids.size(), 3u);
    const std::vector<int> cut = tok.tokenize("a photo of a cat.", 3);
    EXPECT_EQ(cut, (std::vector<int>{tok.startToken(), ids[0], tok.endToken()}));
    EXPECT_EQ(tok.tokenize("a photo of a cat.", 1), std::vector<int>{tok.endToken()});
    EXPECT_EQ(tok.tokenize("", 4), (std::vector<int>{tok.startToken(), tok.endToken(), 0, 0}));
    EXPECT_THROW(tok.tokenize("x", 0), InvalidArgument);
}

TEST(ClipTokenizer, EncodeIsThreadSafe) {
    const ClipTokenizer tok = ClipTokenizer::load(ms::test::fixture("text"));
    std::vector<std::thread> threads;
    std::vector<bool> same(4, false);
    for (std::size_t t = 0; t < same.size(); ++t) {
        threads.emplace_back([&, t] {
            bool ok = true;
            for (const nlohmann::json& c : expected()["names"])
                ok = ok && tok.encode(c["text"]) == c["encode"].get<std::vector<int>>();
            same[t] = ok;
        });
    }
    for (std::thread& th : threads) th.join();
    for (bool s : same) EXPECT_TRUE(s);
}

TEST(ClipTokenizer, IllFormedUtf8IsReadAsReplacementCharacters) {
    const ClipTokenizer tok = ClipTokenizer::load(ms::test::fixture("text"));
    EXPECT_EQ(tok.encode("a\xff"
                         "b"),
              tok.encode("a\xEF\xBF\xBD"
                         "b"));
}

TEST(ClipTokenizer, HtmlUnescapeFollowsPython) {
    EXPECT_EQ(htmlUnescape(std::string(
                  "&amp;&ampx &notit; &#x41;&#66 &#0; &#x110000; &#1; &#150; &bogus; &#; &")),
              "&&x ¬it; AB \uFFFD \uFFFD  \u2013 &bogus; &#; &");
}

template <typename E>
std::string errorOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(ClipTokenizer, ErrorsNameTheFile) {
    ms::test::TempDir dir;
    const std::string missing = dir.path("nothing.txt.gz");
    EXPECT_NE(errorOf<IoError>([&] { ClipTokenizer::load(missing); }).find(missing),
              std::string::npos);
    EXPECT_NE(errorOf<IoError>([&] { ClipTokenizer::fromOpenClip(missing); }).find(missing),
              std::string::npos);
    EXPECT_NE(errorOf<IoError>([&] {
                  ClipTokenizer::load(dir.dir().string());
              }).find("holds no CLIP tokenizer"),
              std::string::npos);

    const std::string merges = dir.path("merges.txt"), vocab = dir.path("vocab.json");
    std::filesystem::copy_file(ms::test::fixture("text/vocab.json"), vocab);
    write(merges, "#version: 0.2\ni n\nt h e\n");
    const std::string bad = errorOf<FormatError>([&] { ClipTokenizer::fromHf(vocab, merges); });
    EXPECT_NE(bad.find(merges), std::string::npos) << bad;
    EXPECT_NE(bad.find("line 3"), std::string::npos) << bad;

    const std::string gz = dir.path("bad.txt");
    write(gz, "header\na b\nonly\n");
    EXPECT_NE(errorOf<FormatError>([&] { ClipTokenizer::fromOpenClip(gz); }).find(gz + ": line 3"),
              std::string::npos);
    write(gz, "header only\n");
    EXPECT_NE(errorOf<FormatError>([&] { ClipTokenizer::fromOpenClip(gz); }).find("no merges"),
              std::string::npos);
    write(gz, "header\n\xff\xfe\n");
    EXPECT_NE(errorOf<FormatError>([&] { ClipTokenizer::fromOpenClip(gz); }).find("not UTF-8"),
              std::string::npos);
    std::ifstream in(ms::test::fixture("text/bpe_reduced.txt.gz"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    write(dir.path("cut.txt.gz"), bytes.substr(0, bytes.size() / 2));
    EXPECT_NE(errorOf<FormatError>([&] {
                  ClipTokenizer::fromOpenClip(dir.path("cut.txt.gz"));
              }).find("cut.txt.gz"),
              std::string::npos);

    write(merges, "#version: 0.2\ni n\n");
    write(vocab, "[1, 2, 3]");
    const std::string notObject =
        errorOf<FormatError>([&] { ClipTokenizer::fromHf(vocab, merges); });
    EXPECT_NE(notObject.find(vocab), std::string::npos) << notObject;
    EXPECT_NE(notObject.find("JSON object"), std::string::npos) << notObject;
    write(vocab, "{\"a\": ");
    EXPECT_NE(errorOf<FormatError>([&] { ClipTokenizer::fromHf(vocab, merges); }).find(vocab),
              std::string::npos);
    write(vocab, "{\"a\": 1}");
    EXPECT_NE(
        errorOf<FormatError>([&] { ClipTokenizer::fromHf(vocab, merges); }).find("has no token"),
        std::string::npos);
    std::filesystem::remove(merges);
    EXPECT_NE(errorOf<IoError>([&] { ClipTokenizer::load(vocab); }).find(merges),
              std::string::npos);
}

TEST(ClipTokenizer, TemplateSets) {
    const std::vector<std::string>& openai = templateSet("openai");
    ASSERT_EQ(openai.size(), 80u);
    EXPECT_EQ(openai.front(), "a bad photo of a {}.");
    EXPECT_EQ(openai[35], "a {} in a video game.");
    EXPECT_EQ(openai.back(), "a tattoo of the {}.");
    EXPECT_EQ(templateSet("simple"), std::vector<std::string>{"a photo of a {}."});
    EXPECT_EQ(templateSetNames(), (std::vector<std::string>{"openai", "simple"}));
    const std::string unknown = errorOf<InvalidArgument>([] { templateSet("imagenet"); });
    EXPECT_NE(unknown.find("'imagenet'"), std::string::npos);
    EXPECT_NE(unknown.find("openai, simple"), std::string::npos);
    EXPECT_EQ(applyTemplate("a photo of a {}.", "great white shark"),
              "a photo of a great white shark.");
    EXPECT_EQ(applyTemplate("{} and {}", "x"), "x and x");
    EXPECT_EQ(applyTemplate("no slot", "x"), "no slot");
    for (const nlohmann::json& c : expected()["templates"])
        EXPECT_EQ(applyTemplate(c["template"], c["name"]), c["text"].get<std::string>());
}

// The released vocabulary, where this machine has it (set MS_CLIP_BPE_GZ, or an installed
// open_clip / clip). Ids checked with the fixture script: make_tokenizer_fixtures.py --real PATH.
TEST(ClipTokenizer, ReleasedOpenAiVocabulary) {
    std::vector<std::string> candidates = {
        "/usr/lib/python3/dist-packages/open_clip/bpe_simple_vocab_16e6.txt.gz",
        "/usr/lib/python3/dist-packages/clip/bpe_simple_vocab_16e6.txt.gz"};
    if (const char* env = std::getenv("MS_CLIP_BPE_GZ")) candidates.insert(candidates.begin(), env);
    std::string path;
    for (const std::string& c : candidates) {
        if (std::filesystem::exists(c)) {
            path = c;
            break;
        }
    }
    if (path.empty()) GTEST_SKIP() << "bpe_simple_vocab_16e6.txt.gz not found (set MS_CLIP_BPE_GZ)";
    const ClipTokenizer tok = ClipTokenizer::load(path);
    EXPECT_EQ(tok.vocabularySize(), 49408u);
    EXPECT_EQ(tok.startToken(), 49406);
    EXPECT_EQ(tok.endToken(), 49407);
    EXPECT_EQ(tok.encode("a photo of a cat."), (std::vector<int>{320, 1125, 539, 320, 2368, 269}));
    EXPECT_EQ(tok.encode("a diagram"), (std::vector<int>{320, 22697}));
    EXPECT_EQ(tok.encode("It\u2019s a dog's life!"),
              (std::vector<int>{585, 568, 320, 1929, 568, 970, 256}));
    EXPECT_EQ(tok.encode("caf\u00e9 &amp; cr\u00e8me"),
              (std::vector<int>{15304, 261, 1075, 12138, 614}));
    EXPECT_EQ(tok.encode("\u041c\u043e\u0441\u043a\u0432\u0430"),
              (std::vector<int>{38018, 13506, 23669, 27152, 39813, 27080}));
    EXPECT_EQ(tok.encode("\U0001F431"), std::vector<int>{22979});
    EXPECT_EQ(tok.encode("\uFB01sh 2024"), (std::vector<int>{2759, 273, 271, 273, 275}));
    const std::vector<int> t = tok.tokenize("a diagram");
    EXPECT_EQ(std::vector<int>(t.begin(), t.begin() + 5),
              (std::vector<int>{49406, 320, 22697, 49407, 0}));
}

}  // namespace
}  // namespace ms::core::text
