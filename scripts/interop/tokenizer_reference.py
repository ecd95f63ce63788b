"""Reference side of TokenizerInteropTest: Hugging Face `tokenizers` on a byte-level BPE tokenizer shaped like Qwen's.

    tokenizer_reference.py OUT_DIR

Trains a byte-level BPE (NFC normalizer, Split with Qwen3.5's pattern + ByteLevel pre-tokenizer, ByteLevel
decoder, Qwen's special tokens) on a generated multilingual corpus and writes, for two pre-tokenizer patterns
(Qwen3.5's, with \\p{M}, and Qwen2/Qwen3's), OUT_DIR/<variant>/tokenizer.json and OUT_DIR/<variant>/expected.json:
  strings      the test strings (generated deterministically here)
  ids          tokenizer.encode(s, add_special_tokens=False).ids for each string
  decoded      tokenizer.decode(ids, skip_special_tokens=False) for each string
  single_ids   tokenizer.decode([id]) for every id of the vocabulary (partial UTF-8 sequences included)
  id_runs      a few random id sequences and their decode
Everything is deterministic (fixed seeds), so the Java side compares against exactly what `tokenizers` said.
"""
import json
import os
import random
import sys

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from tokenizers import AddedToken

QWEN35_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}"
                  r"| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                 r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                  "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
                  "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
# Non-special added tokens as Qwen ships them (normalized false), one that is a prefix of another (longest match
# wins), and one with normalized true (matched in the NFC-normalized text).
PLAIN_ADDED = ["<tool_call>", "</tool_call>", "<think>", "</think>", "<tool>", "<tool><call>"]
NORMALIZED_ADDED = ["<norm|x>"]

WORDS = {
    "en": "the quick brown fox jumps over lazy dog it's we're they've I'm you'll he'd DON'T Won'T can't "
          "tokenizer model weights checkpoint training rollout engine gradient tensor parallel pipeline expert "
          "hello world naïve café résumé coöperate façade déjà vu",
    "de": "Größe Straße Übergröße Fußgänger Äpfel schön müssen",
    "fr": "été à où garçon français œuvre Noël",
    "ru": "Привет мир это проверка токенизатора Москва съешь же ещё этих мягких французских булок",
    "el": "Γειά σου κόσμε αλφάβητο ελληνικά ΣΊΣΥΦΟΣ",
    "zh": "你好世界 这是一个测试 分词器 模型 训练 检查点 中华人民共和国 机器学习 深度学习",
    "ja": "こんにちは世界 日本語のテキスト カタカナ ひらがな 東京都 ｶﾀｶﾅ",
    "ko": "안녕하세요 세계 한국어 텍스트 토크나이저",
    "ar": "مرحبا بالعالم هذا اختبار للمحلل اللغوي العربية مُحَمَّد",
    "hi": "नमस्ते दुनिया यह एक परीक्षण है हिन्दी भाषा क्षत्रिय",
    "th": "สวัสดีชาวโลก ภาษาไทย",
    "he": "שלום עולם עברית",
    "emoji": "😀 😂 👍 👍🏽 ❤️ 🎉 🚀 👨‍👩‍👧‍👦 🏳️‍🌈 🇩🇪 🇯🇵 👩🏽‍💻 🧑‍🤝‍🧑 ✈️ ☕",
    "code": "def main ( ) : return x + y ; for ( int i = 0 ; i < n ; i ++ ) { sum += a [ i ] ; } "
            "public static void import numpy as np // comment /* block */ # include <stdio.h> "
            "std::vector<int> x->y == != <= >= && || => :: self.foo() print(f\"{x!r}\") `code` $HOME ~/.bashrc",
    "digits": "0 1 2 3 4 5 6 7 8 9 10 42 123 2024 3.14159 1,000,000 1e-3 0x7f ١٢٣ ४५६ ⅫⅣ ½ ²³",
    "punct": ". , ; : ! ? ... — – - ( ) [ ] { } \" ' « » „ “ ” ‘ ’ … · • § ¶ © ® ™ ° ± × ÷ € £ ¥ %",
}
WHITESPACE = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n", "\n ", "\u00a0", "\u3000", "\u2028",
              "\u2029", "\u2003", "\u200a", "\u202f", "\u205f", "\u1680", "\u0085", "\u000b", "\u000c", "\u200b",
              "\u180e", "\ufeff", " \t \n  "]
# Code point ranges that have been assigned (and kept their category) for many Unicode versions, so that Java's
# and Oniguruma's Unicode tables agree on them.
RANGES = [(0x20, 0x7e), (0xa0, 0x17f), (0x300, 0x36f), (0x391, 0x3c9), (0x410, 0x44f), (0x5d0, 0x5ea),
          (0x620, 0x64a), (0x64b, 0x65f), (0x660, 0x669), (0x905, 0x939), (0x93e, 0x94d), (0x966, 0x96f),
          (0xe01, 0xe3a), (0x3041, 0x3096), (0x30a1, 0x30fa), (0x4e00, 0x9fa5), (0xac00, 0xd7a3),
          (0xff01, 0xff5e), (0x1f300, 0x1f5ff), (0x1f600, 0x1f64f), (0x1f680, 0x1f6c5), (0x1d400, 0x1d44f),
          (0x2000, 0x206f), (0x2150, 0x218b), (0xfe00, 0xfe0f), (0x1f3fb, 0x1f3ff)]


def words(rng, lang, count):
    pool = WORDS[lang].split(" ")
    return [rng.choice(pool) for _ in range(count)]


def sentence(rng):
    lang = rng.choice(list(WORDS))
    parts = words(rng, lang, rng.randint(1, 12))
    out = []
    for part in parts:
        out.append(part)
        out.append(rng.choice([" "] * 8 + WHITESPACE))
    return "".join(out[:-1]) + rng.choice(["", ".", "!", "?", "\n", "。", "؟"])


def random_chars(rng, count):
    chars = []
    for _ in range(count):
        low, high = rng.choice(RANGES)
        chars.append(chr(rng.randint(low, high)))
    return "".join(chars)


def corpus(seed, lines):
    rng = random.Random(seed)
    for _ in range(lines):
        yield " ".join(sentence(rng) for _ in range(rng.randint(1, 6)))


def test_strings():
    rng = random.Random(20261206)
    fixed = [
        "", " ", "  ", "\n", "\r\n", "\t", "a", "Hello world", " Hello", "Hello  world", "Hello\n\nworld",
        "it's IT'S it'S it'\u017f don'T we'Re 'll", "x  \n  y", "   leading and trailing   ", "\u00a0\u00a0x",
        "\u3000全角\u3000スペース", "line\u2028sep\u2029para", "tab\there\t\tand\t\t\tthere", "1234567890",
        "3.14159265358979", "x=1;y=22;z=333", "    def f(x):\n        return x * 2\n", "<|im_start|>",
        "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", "a<|im_end|>b", "<|im_start|><|im_end|>",
        "<|im_sta", "<|im_start|", "<<|im_end|>>", "x.<|im_end|>", "<think>\n\n</think>\n\n", "<tool><call>",
        "<tool><cal", "<tool>", "<tool_call>{\"name\": \"f\"}</tool_call>", "<norm|x>", "a<norm|x>b",
        "<|vision_start|><|image_pad|><|image_pad|><|vision_end|>Describe the image.", "<|endoftext|>" * 3,
        "e\u0301", "cafe\u0301", "\u0041\u030a", "\u212b", "\u1e9b\u0323", "n\u0303o", "한국어", "\u1100\u1161\u11a8",
        "👨‍👩‍👧‍👦👨‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽👍🏿", "🇩🇪🇫🇷", "a\u200db", "\ufeffBOM", "\u0000\u0001\u001f\u007f",
        "\u0085next", "Ω≈ç√∫˜µ≤≥÷", "𝐇𝐞𝐥𝐥𝐨", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗͚", "مُحَمَّد", "क्षत्रिय", "ﷺ", "ﬁﬂ",
    ]
    generated = []
    for index in range(3000):
        kind = index % 6
        if kind == 0:
            generated.append(sentence(rng))
        elif kind == 1:
            generated.append(random_chars(rng, rng.randint(1, 40)))
        elif kind == 2:
            generated.append("".join(rng.choice(WHITESPACE + ["x", "1", "é", "中", ".", "'s"])
                                     for _ in range(rng.randint(1, 20))))
        elif kind == 3:
            pieces = [sentence(rng), rng.choice(SPECIAL_TOKENS + PLAIN_ADDED + NORMALIZED_ADDED), sentence(rng)]
            generated.append("".join(pieces))
        elif kind == 4:
            generated.append(" ".join(words(rng, "code", rng.randint(3, 30))) + "\n" +
                             " " * rng.randint(0, 8) + " ".join(words(rng, "digits", rng.randint(1, 8))))
        else:
            generated.append("".join(rng.choice([sentence(rng), random_chars(rng, 5), rng.choice(WHITESPACE)])
                                     for _ in range(rng.randint(2, 6))))
    generated.append(" ".join(sentence(rng) for _ in range(300)))  # a long string
    return fixed + generated


def train():
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN35_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=3000, min_frequency=2, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(corpus(7, 6000), trainer)
    tokenizer.add_tokens([AddedToken(token, normalized=False, special=False) for token in PLAIN_ADDED])
    tokenizer.add_tokens([AddedToken(token, normalized=True, special=False) for token in NORMALIZED_ADDED])
    return tokenizer


def write_variant(out_dir, name, tokenizer, strings):
    variant = os.path.join(out_dir, name)
    os.makedirs(variant, exist_ok=True)
    tokenizer.save(os.path.join(variant, "tokenizer.json"))
    ids = [tokenizer.encode(s, add_special_tokens=False).ids for s in strings]
    decoded = [tokenizer.decode(row, skip_special_tokens=False) for row in ids]
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    single_ids = [tokenizer.decode([i], skip_special_tokens=False) for i in range(size)]
    rng = random.Random(99)
    id_runs = [[rng.randrange(size) for _ in range(rng.randint(1, 12))] for _ in range(2000)]
    run_decoded = [tokenizer.decode(row, skip_special_tokens=False) for row in id_runs]
    with open(os.path.join(variant, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"strings": strings, "ids": ids, "decoded": decoded, "single_ids": single_ids,
                   "id_runs": id_runs, "id_runs_decoded": run_decoded}, f)
    print(f"{name}: {len(strings)} strings, vocabulary {size}, {sum(map(len, ids))} ids")


def main():
    out_dir = sys.argv[1]
    strings = test_strings()
    qwen35 = train()
    write_variant(out_dir, "qwen35", qwen35, strings)
    # The same vocabulary and merges with Qwen2/Qwen3's pattern (no \p{M} in the word and punctuation classes).
    spec = json.loads(qwen35.to_str())
    split = spec["pre_tokenizer"]["pretokenizers"][0]
    assert split["pattern"]["Regex"] == QWEN35_PATTERN, split
    split["pattern"]["Regex"] = QWEN3_PATTERN
    write_variant(out_dir, "qwen3", Tokenizer.from_str(json.dumps(spec)), strings)


if __name__ == "__main__":
    main()
