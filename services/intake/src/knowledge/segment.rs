//! Chinese word segmentation (分词) for the knowledge base, with the
//! maintained `jieba-rs` segmenter and its built-in dictionary. Pure: the
//! dictionary is compiled in and loaded once.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use jieba_rs::Jieba;

/// At most this many words of a query are searched for.
pub const MAX_QUERY_TERMS: usize = 64;

fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

/// Words that carry no meaning of their own in a caller's question: they
/// would match nearly every article.
const STOP_WORDS: &[&str] = &[
    "的",
    "了",
    "吗",
    "呢",
    "啊",
    "吧",
    "呀",
    "嘛",
    "么",
    "哦",
    "哈",
    "啦",
    "我",
    "你",
    "您",
    "他",
    "她",
    "它",
    "我们",
    "你们",
    "他们",
    "咱",
    "我家",
    "家里",
    "请问",
    "问",
    "问一下",
    "一下",
    "想",
    "想问",
    "想要",
    "要",
    "能",
    "能不能",
    "可以",
    "可不可以",
    "怎么",
    "怎么办",
    "怎么样",
    "怎样",
    "如何",
    "什么",
    "啥",
    "哪",
    "哪里",
    "哪儿",
    "哪个",
    "是",
    "是不是",
    "有",
    "有没有",
    "没有",
    "在",
    "和",
    "与",
    "及",
    "或",
    "或者",
    "都",
    "也",
    "还",
    "就",
    "这",
    "那",
    "这个",
    "那个",
    "个",
    "些",
    "一些",
    "这样",
    "那样",
    "就是",
    "应该",
    "需要",
    "现在",
    "一般",
    "到底",
    "一",
    "得",
    "地",
    "着",
    "过",
    "把",
    "被",
    "给",
    "让",
    "对",
    "从",
    "到",
    "为",
    "为什么",
    "跟",
    "去",
    "来",
    "说",
    "会",
    "不",
    "没",
    "多",
    "大",
    "小",
    "好",
    "上",
    "下",
    "里",
    "中",
    "时候",
    "什么时候",
    "北京",
    "北京市",
    "本市",
];

/// Whether a segment is a word at all (not punctuation or spaces).
fn is_word(w: &str) -> bool {
    w.chars().any(char::is_alphanumeric)
}

/// Whether a character is a Chinese ideograph.
fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// The segmenter's distinct words of a text, in the order they first
/// appear: its search mode also yields the shorter words inside long ones
/// (e.g. "公积金", "提取" inside "公积金提取").
fn segments(text: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    jieba()
        .cut_for_search(text, true)
        .into_iter()
        .map(|t| t.word.trim().to_lowercase())
        .filter(|w| is_word(w) && seen.insert(w.clone()))
        .collect()
}

/// The words, then each Chinese character of them on its own not yet
/// among them, so that a caller's "暖气" still meets an article's "供暖"
/// (a single character is common, so it weighs little).
fn with_characters(words: Vec<String>) -> Vec<String> {
    let mut seen: HashSet<String> = words.iter().cloned().collect();
    let singles: Vec<String> = words
        .iter()
        .flat_map(|w| w.chars().filter(|c| is_han(*c)).map(String::from))
        .filter(|c| seen.insert(c.clone()))
        .collect();
    words.into_iter().chain(singles).collect()
}

/// Each pair of adjacent Chinese characters of the text (character
/// bigrams), so that a word the segmenter cut differently in the caller's
/// words and in the article's ("水管子", "水管") still meets, and
/// a pair across two of the caller's words too.
fn bigrams(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .windows(2)
        .filter(|w| is_han(w[0]) && is_han(w[1]))
        .map(|w| w.iter().collect())
        .collect()
}

/// The distinct words of a text, its character bigrams and its
/// characters, as indexed.
pub fn words(text: &str) -> Vec<String> {
    let segmented = segments(text);
    let mut seen: HashSet<String> = segmented.iter().cloned().collect();
    let pairs: Vec<String> = bigrams(text)
        .into_iter()
        .filter(|b| seen.insert(b.clone()))
        .collect();
    with_characters(segmented.into_iter().chain(pairs).collect())
}

/// Beijing's synonym table (`synonyms.txt`), the default: a caller's word
/// → the words articles use for it. A city gives its own with
/// `HOTLINE_SYNONYMS_FILE` (`config.rs`).
pub const BUILT_IN_SYNONYMS: &str = include_str!("synonyms.txt");

/// A synonym table: a caller's word (lowercase) → the words articles use
/// for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synonyms(HashMap<String, Vec<String>>);

impl Synonyms {
    /// Parses `word = official words …` lines; '#' starts a comment line.
    /// Every line that is neither is named (1-based), all at once.
    pub fn parse(text: &str) -> Result<Synonyms, Vec<String>> {
        let mut table = HashMap::new();
        let mut problems = Vec::new();
        for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((from, to)) = line.split_once('=') else {
                problems.push(format!("line {n}: `word = words …` expected"));
                continue;
            };
            let from = from.trim().to_lowercase();
            let to: Vec<String> = to.split_whitespace().map(str::to_lowercase).collect();
            if from.is_empty() || to.is_empty() {
                problems.push(format!("line {n}: a word on each side of '='"));
            } else if table.insert(from.clone(), to).is_some() {
                problems.push(format!("line {n}: {from} given twice"));
            }
        }
        if problems.is_empty() {
            Ok(Synonyms(table))
        } else {
            Err(problems)
        }
    }

    /// Beijing's table, parsed once.
    pub fn built_in() -> &'static Synonyms {
        static TABLE: OnceLock<Synonyms> = OnceLock::new();
        TABLE.get_or_init(|| Synonyms::parse(BUILT_IN_SYNONYMS).unwrap_or_default())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn get(&self, word: &str) -> Option<&Vec<String>> {
        self.0.get(word)
    }

    fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }
}

/// The words of a query worth searching for: its words without stop
/// words, then the words the synonym table gives for them or for longer
/// words of the table found in the text (segmented as articles are), then the characters of its own words, at most
/// [`MAX_QUERY_TERMS`].
pub fn query_terms(text: &str, synonyms: &Synonyms) -> Vec<String> {
    let kept: Vec<String> = segments(text)
        .into_iter()
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect();
    let mut seen: HashSet<String> = kept.iter().cloned().collect();
    // A word of the table found by the segmenter, or (two characters or
    // more) anywhere in the text, however the segmenter cut it.
    let lowered = text.to_lowercase();
    let mut found: Vec<&Vec<String>> = kept.iter().filter_map(|w| synonyms.get(w)).collect();
    let mut keys: Vec<&String> = synonyms
        .keys()
        .filter(|k| k.chars().count() > 1 && lowered.contains(k.as_str()))
        .collect();
    keys.sort();
    found.extend(keys.into_iter().filter_map(|k| synonyms.get(k)));
    let expanded: Vec<String> = found
        .into_iter()
        .flatten()
        .flat_map(|w| segments(w))
        .filter(|w| seen.insert(w.clone()))
        .collect();
    let pairs: Vec<String> = bigrams(&lowered);
    let own = with_characters(kept.into_iter().chain(pairs).collect());
    let mut taken = HashSet::new();
    let (words, characters): (Vec<String>, Vec<String>) = own
        .into_iter()
        .partition(|w| w.chars().count() > 1 || !w.chars().all(is_han));
    words
        .into_iter()
        .chain(expanded)
        .chain(characters)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .filter(|w| taken.insert(w.clone()))
        .take(MAX_QUERY_TERMS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_cut_into_words_and_stop_words_dropped() {
        let w = words("我想问一下公积金提取需要什么材料？");
        assert!(w.contains(&"公积金".to_string()), "{w:?}");
        assert!(w.contains(&"提取".to_string()), "{w:?}");
        assert!(!w.iter().any(|x| x == "？"), "punctuation is no word");
        let q = query_terms("我想问一下公积金提取需要什么材料？", Synonyms::built_in());
        assert!(!q.contains(&"什么".to_string()), "{q:?}");
        assert!(q.contains(&"材料".to_string()), "{q:?}");
    }

    #[test]
    fn a_callers_word_also_searches_the_articles_words() {
        let q = query_terms("厨房一股煤气味", Synonyms::built_in());
        assert!(q.contains(&"燃气".to_string()), "{q:?}");
        assert!(Synonyms::built_in().len() > 50);
        // Another city's table: its words, not Beijing's.
        let table = Synonyms::parse("# c\n狗证 = 养犬登记 犬只\n\n").unwrap();
        assert_eq!(table.len(), 1);
        assert_eq!(table.get("狗证").unwrap(), &["养犬登记", "犬只"]);
        let q = query_terms("厨房一股煤气味", &table);
        assert!(!q.contains(&"燃气".to_string()), "{q:?}");
        let q = query_terms("怎么办狗证", &table);
        assert!(q.contains(&"养犬".to_string()), "{q:?}");
        let e = Synonyms::parse("a = b\nbad line\n = x\na = c\n").unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].starts_with("line 2") && e[2].starts_with("line 4"),
            "{e:?}"
        );
    }

    #[test]
    fn words_are_distinct_and_latin_is_lowercased() {
        let w = words("APP 办理 app 办理");
        assert_eq!(w, ["app", "办理", "办", "理"]);
        assert!(query_terms("？！。 ", Synonyms::built_in()).is_empty());
    }
}
