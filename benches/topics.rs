//! Topic matching throughput: `cargo bench --bench topics` (optionally `-- TOPICS ARTICLES`).
//!
//! Topics and articles are generated from one vocabulary of real Vietnamese syllables, drawn
//! with a skew in articles (as in real text) and uniformly in phrases. Each topic has 5 `any`
//! phrases of 2–3 syllables (every tenth topic one of them typed without accents), one `none`
//! and one `ignore` phrase that extends its first `any` phrase by a syllable, the way "nhân dân
//! vận dụng" extends "dân vận". Articles have a ~12-syllable title, ~60-syllable summary and
//! ~300-syllable content with punctuation and capitals, cleaned as ingest stores them. Reports
//! (a) compile time, (b) `MatchInput` preparation and (c) `matches` per article (median of 3
//! rounds), for the full topic set, 100 and 10 topics: the per-article cost should barely move
//! with the count.

use std::time::{Duration, Instant};

use bantin::text;
use bantin::topics::{MatchInput, Matcher, SourceRef, TopicSpec};

const VOCABULARY: &[&str] = &[
    "dân",
    "vận",
    "công",
    "tác",
    "nhân",
    "đảng",
    "ủy",
    "ban",
    "tỉnh",
    "hội",
    "nghị",
    "chính",
    "phủ",
    "nhà",
    "nước",
    "phát",
    "triển",
    "kinh",
    "tế",
    "xã",
    "văn",
    "hóa",
    "giáo",
    "dục",
    "y",
    "cán",
    "bộ",
    "đoàn",
    "thể",
    "mặt",
    "trận",
    "tổ",
    "quốc",
    "việt",
    "nam",
    "thành",
    "phố",
    "hà",
    "nội",
    "trung",
    "ương",
    "cơ",
    "sở",
    "chủ",
    "quyền",
    "lợi",
    "người",
    "lao",
    "động",
    "thực",
    "hiện",
    "nhiệm",
    "vụ",
    "năm",
    "tháng",
    "ngày",
    "đồng",
    "chí",
    "bí",
    "thư",
    "chủ",
    "tịch",
    "thủ",
    "tướng",
    "quốc",
    "hội",
    "đại",
    "biểu",
    "bầu",
    "cử",
    "lãnh",
    "đạo",
    "chỉ",
    "tăng",
    "cường",
    "đẩy",
    "mạnh",
    "nâng",
    "cao",
    "chất",
    "lượng",
    "hiệu",
    "quả",
    "quản",
    "lý",
    "đổi",
    "mới",
    "sáng",
    "tạo",
    "khoa",
    "học",
    "kỹ",
    "thuật",
    "số",
    "chuyển",
    "an",
    "ninh",
    "quân",
    "đội",
    "biên",
    "giới",
    "hải",
    "đảo",
    "bảo",
    "vệ",
    "môi",
    "trường",
    "nông",
    "thôn",
    "nghiệp",
    "doanh",
    "đầu",
    "tư",
    "hạ",
    "tầng",
    "giao",
    "thông",
    "vốn",
    "ngân",
    "sách",
    "thuế",
    "chương",
    "trình",
    "kế",
    "hoạch",
    "đề",
    "án",
    "dự",
    "luật",
    "pháp",
    "nghị",
    "định",
    "quyết",
    "thông",
    "tư",
    "hướng",
    "dẫn",
    "tuyên",
    "truyền",
    "vận",
    "dụng",
    "chuyển",
    "hành",
    "phòng",
    "chống",
    "tham",
    "nhũng",
    "lãng",
    "phí",
    "tiêu",
    "cực",
    "kiểm",
    "tra",
    "giám",
    "sát",
    "thanh",
    "tra",
    "xây",
    "dựng",
    "chỉnh",
    "đốn",
    "trong",
    "sạch",
    "vững",
    "mạnh",
    "đoàn",
    "kết",
    "thống",
    "nhất",
    "hòa",
    "bình",
    "hợp",
    "tác",
    "quốc",
    "tế",
    "ngoại",
    "giao",
    "hữu",
    "nghị",
    "thủy",
    "sản",
    "khỏe",
    "sức",
    "bệnh",
    "viện",
    "trẻ",
    "em",
    "phụ",
    "nữ",
    "thanh",
    "niên",
    "cựu",
    "chiến",
    "binh",
    "nông",
    "dân",
    "công",
    "nhân",
    "trí",
    "thức",
    "doanh",
    "nhân",
    "tôn",
    "giáo",
    "dân",
    "tộc",
    "miền",
    "núi",
    "vùng",
    "sâu",
    "xa",
    "khó",
    "khăn",
    "nghèo",
    "giảm",
    "bền",
    "vững",
    "của",
    "và",
    "các",
    "những",
    "được",
    "cho",
    "với",
    "đã",
    "sẽ",
    "đang",
    "là",
    "có",
    "không",
    "này",
    "đó",
    "để",
    "theo",
    "trên",
    "tại",
    "về",
    "từ",
    "một",
    "hai",
    "ba",
    "nhiều",
    "vẫn",
    "còn",
    "rất",
    "cần",
    "phải",
    "làm",
    "tốt",
    "đúng",
    "kịp",
    "thời",
    "ý",
    "kiến",
    "anh",
    "chị",
    "em",
    "ông",
    "bà",
    "cô",
    "chú",
    "bác",
    "cháu",
    "con",
    "gia",
    "đình",
    "họ",
    "tên",
    "tuổi",
    "sinh",
    "sống",
    "mất",
    "tìm",
    "thấy",
    "biết",
    "nghe",
    "nói",
    "đọc",
    "viết",
    "hỏi",
    "trả",
    "lời",
    "đi",
    "đến",
    "ra",
    "vào",
    "lên",
    "xuống",
    "qua",
    "lại",
    "ở",
    "đây",
    "kia",
    "nào",
    "sao",
    "gì",
    "ai",
    "bao",
    "giờ",
    "lúc",
    "khi",
    "nếu",
    "thì",
    "nhưng",
    "mà",
    "hay",
    "hoặc",
    "vì",
    "nên",
    "bởi",
    "do",
    "tuy",
    "dù",
    "cũng",
    "đều",
    "mỗi",
    "từng",
    "cả",
    "toàn",
    "phần",
    "lớn",
    "nhỏ",
    "thấp",
    "dài",
    "ngắn",
    "rộng",
    "hẹp",
    "nhanh",
    "chậm",
    "sớm",
    "muộn",
    "cũ",
    "xấu",
    "đẹp",
    "giàu",
    "yếu",
    "đông",
    "tây",
    "bắc",
    "sông",
    "biển",
    "rừng",
    "đất",
    "trời",
    "mưa",
    "nắng",
    "gió",
    "bão",
    "lũ",
    "lụt",
    "hạn",
    "mặn",
    "lúa",
    "gạo",
    "ngô",
    "khoai",
    "sắn",
    "cà",
    "phê",
    "chè",
    "su",
    "điều",
    "cá",
    "tôm",
    "heo",
    "gà",
    "vịt",
    "bò",
    "trâu",
    "cây",
    "hoa",
    "trái",
    "rau",
    "thịt",
    "sữa",
    "trứng",
    "muối",
    "đường",
    "xăng",
    "dầu",
    "điện",
    "than",
    "khí",
    "mỏ",
    "thép",
    "xi",
    "măng",
    "gỗ",
    "giấy",
    "vải",
    "may",
    "mặc",
    "giày",
    "dép",
    "xe",
    "tàu",
    "thuyền",
    "máy",
    "bay",
    "cầu",
    "cảng",
    "ga",
    "sân",
    "chợ",
    "siêu",
    "thị",
    "cửa",
    "hàng",
    "khách",
    "sạn",
    "du",
    "lịch",
    "nghỉ",
    "dưỡng",
    "lễ",
    "tết",
    "chùa",
    "đền",
    "miếu",
    "thờ",
    "lớp",
    "thầy",
    "trò",
    "viên",
    "thi",
    "điểm",
    "bằng",
    "cấp",
    "đào",
    "nghề",
    "việc",
    "lương",
    "thưởng",
    "phạt",
    "tiền",
    "giá",
    "chứng",
    "khoán",
    "cổ",
    "phiếu",
    "lãi",
    "suất",
    "tín",
    "nợ",
    "vay",
    "gửi",
    "tiết",
    "kiệm",
    "hiểm",
    "xuất",
    "khẩu",
    "nhập",
    "dịch",
    "phẩm",
    "thương",
    "mại",
    "tử",
    "mạng",
    "dữ",
    "liệu",
    "mềm",
    "cứng",
    "tuệ",
    "tinh",
    "lửa",
    "vũ",
    "súng",
    "đạn",
    "lính",
    "tá",
    "úy",
    "sĩ",
    "quan",
    "lục",
    "cảnh",
    "tòa",
    "sư",
    "bị",
    "cáo",
    "tội",
    "phạm",
    "tù",
    "giam",
    "xử",
    "khởi",
    "tố",
    "bắt",
    "giữ",
    "truy",
    "nã",
    "ma",
    "túy",
    "buôn",
    "lậu",
    "gian",
    "lận",
    "lừa",
    "trộm",
    "cướp",
    "tai",
    "nạn",
    "cháy",
    "nổ",
    "sập",
    "lở",
    "cứu",
    "hộ",
    "vong",
    "hỗ",
    "trợ",
    "thiện",
    "quyên",
    "góp",
    "ủng",
    "tuần",
    "quý",
    "kỳ",
    "họp",
    "phiên",
    "thảo",
    "luận",
    "biểu",
    "quyết",
    "thông",
    "qua",
    "ký",
    "kết",
    "hiệp",
    "định",
    "tuyên",
    "bố",
    "thăm",
    "tiếp",
    "đón",
    "gặp",
    "gỡ",
    "trao",
    "tặng",
    "huân",
    "chương",
    "danh",
    "hiệu",
    "anh",
    "hùng",
    "liệt",
    "tưởng",
    "niệm",
    "kỷ",
];

/// The vocabulary without repeats, most frequent first (the list repeats a few on purpose of
/// reading naturally; a repeat would only skew the draw further).
fn vocabulary() -> Vec<&'static str> {
    let mut seen = std::collections::HashSet::new();
    VOCABULARY
        .iter()
        .copied()
        .filter(|s| seen.insert(*s))
        .collect()
}

/// xorshift64*: deterministic, no dependency.
struct Rng {
    state: u64,
    vocabulary: Vec<&'static str>,
}

impl Rng {
    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A syllable of running text: frequent ones (early in the list) much more often, as in
    /// real text.
    fn text_syllable(&mut self) -> &'static str {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        self.vocabulary[((u * u) * self.vocabulary.len() as f64) as usize]
    }

    /// A syllable of a topic phrase: uniform, since admins pick distinctive words (phrases of
    /// the commonest syllables would match most articles).
    fn phrase_syllable(&mut self) -> &'static str {
        let i = self.below(self.vocabulary.len());
        self.vocabulary[i]
    }

    fn phrase(&mut self, syllables: usize) -> String {
        (0..syllables)
            .map(|_| self.phrase_syllable())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn topics(count: usize, rng: &mut Rng) -> Vec<TopicSpec> {
    (0..count)
        .map(|t| {
            let mut any: Vec<String> = (0..5)
                .map(|_| {
                    let syllables = 2 + rng.below(2);
                    rng.phrase(syllables)
                })
                .collect();
            if t % 10 == 0 {
                any[4] = text::fold(&any[4]);
            }
            let ignore = vec![format!("{} {}", any[0], rng.phrase_syllable())];
            let none = vec![rng.phrase(2)];
            TopicSpec {
                id: format!("topic-{t}"),
                name: format!("Topic {t}"),
                any,
                none,
                ignore,
                ..TopicSpec::default()
            }
        })
        .collect()
}

/// Sentences of 6–20 syllables, commas inside, capitalized, cleaned as ingest stores them.
fn text(syllables: usize, rng: &mut Rng) -> String {
    let mut out = String::new();
    let mut in_sentence = 0;
    let mut sentence_len = 6 + rng.below(15);
    for _ in 0..syllables {
        let s = rng.text_syllable();
        if in_sentence == 0 {
            if !out.is_empty() {
                out.push(' ');
            }
            let mut chars = s.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        } else {
            out.push_str(if rng.below(12) == 0 { ", " } else { " " });
            out.push_str(s);
        }
        in_sentence += 1;
        if in_sentence == sentence_len {
            out.push('.');
            in_sentence = 0;
            sentence_len = 6 + rng.below(15);
        }
    }
    text::clean(&out)
}

struct Article {
    title: String,
    summary: String,
    content: String,
}

fn articles(count: usize, rng: &mut Rng) -> Vec<Article> {
    (0..count)
        .map(|_| Article {
            title: text(10 + rng.below(5), rng),
            summary: text(50 + rng.below(21), rng),
            content: text(250 + rng.below(101), rng),
        })
        .collect()
}

#[derive(Clone, Copy)]
struct Round {
    prepare: Duration,
    matching: Duration,
    found: usize,
}

fn run(matcher: &Matcher, articles: &[Article]) -> Round {
    let tags = vec!["dang".to_owned()];
    let sources = [SourceRef {
        id: "nhandan",
        tags: &tags,
    }];
    let mut round = Round {
        prepare: Duration::ZERO,
        matching: Duration::ZERO,
        found: 0,
    };
    for a in articles {
        let t = Instant::now();
        let input = MatchInput::from_plain(&a.title, &a.summary, &a.content);
        round.prepare += t.elapsed();
        let t = Instant::now();
        let found = matcher.matches(&input, &sources);
        round.matching += t.elapsed();
        round.found += found.len();
    }
    round
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn report(specs: Vec<TopicSpec>, articles: &[Article]) {
    let topic_count = specs.len();
    let phrases: usize = specs
        .iter()
        .map(|s| s.any.len() + s.none.len() + s.ignore.len())
        .sum();
    let mut compile_times = Vec::new();
    let mut matcher = None;
    for _ in 0..3 {
        let t = Instant::now();
        let m = Matcher::compile(specs.clone()).expect("generated topics compile");
        compile_times.push(t.elapsed());
        matcher = Some(m);
    }
    let matcher = matcher.expect("compiled at least once");
    println!(
        "{topic_count} topics ({phrases} phrases): compile {:.1} ms",
        median(compile_times).as_secs_f64() * 1e3
    );

    let rounds: Vec<Round> = (0..3).map(|_| run(&matcher, articles)).collect();
    let found = rounds[0].found;
    let n = articles.len() as f64;
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n;
    let prepare = per(median(rounds.iter().map(|r| r.prepare).collect()));
    let matching = per(median(rounds.iter().map(|r| r.matching).collect()));
    let total = prepare + matching;
    println!(
        "{topic_count} topics × {} articles: prepare {prepare:.1} µs/article, matches \
         {matching:.1} µs/article, total {total:.1} µs/article = {:.0} articles/s; {found} \
         topic matches ({:.2} per article)",
        articles.len(),
        1e6 / total,
        found as f64 / n,
    );
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let topic_count = args.first().copied().unwrap_or(1000);
    let article_count = args.get(1).copied().unwrap_or(10_000);

    let mut rng = Rng {
        state: 0x9e37_79b9_7f4a_7c15,
        vocabulary: vocabulary(),
    };
    let specs = topics(topic_count, &mut rng);
    let articles = articles(article_count, &mut rng);
    let bytes: usize = articles
        .iter()
        .map(|a| a.title.len() + a.summary.len() + a.content.len())
        .sum();
    println!(
        "{article_count} articles, {:.0} bytes of text each on average; vocabulary of {} syllables",
        bytes as f64 / article_count as f64,
        rng.vocabulary.len()
    );

    // The same articles against fewer topics: the cost per article should barely move.
    let mut counts = vec![topic_count, 100, 10];
    counts.retain(|&n| n <= topic_count);
    counts.dedup();
    for count in counts {
        report(specs.iter().take(count).cloned().collect(), &articles);
    }
}
