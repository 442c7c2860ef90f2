//! Normalization and consistent numbered placeholders for volatile values.
//!
//! Two runs of the same page never print the same bytes: addresses, IDs, ports, names and clocks change,
//! and a terminal receives escape sequences and progress bars a reader never sees as such. This module turns
//! raw terminal bytes into what a reader would see ([`normalize`]) and finds the values that legitimately
//! change between runs ([`volatile_spans`]). A [`Redactor`] replaces them by numbered placeholders, numbered
//! in order of first appearance across a whole page, so that a snapshot still records which values were
//! equal: `[IP1]` twice means "the same address twice".
//!
//! ```
//! use mdbook_docktest::redact::{normalize, Redactor};
//!
//! let mut page = Redactor::new();
//! let raw = "\x1b[1mweb\x1b[0m is 172.18.0.2   \r\n";
//! assert_eq!(page.redact(&normalize(raw)), "web is [IP1]\n");
//! // Same page, later block: the same address keeps its number, a new one gets the next.
//! assert_eq!(page.redact("172.18.0.3 -> 172.18.0.2"), "[IP2] -> [IP1]");
//! ```

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use regex_automata::meta;

use crate::memo::Remembered;

/// Placeholder prefix for IPv4 addresses: `[IP1]`.
pub const IPV4_PREFIX: &str = "IP";
/// Placeholder prefix for IPv6 addresses: `[IP6_1]` (the underscore keeps `[IP6_1]` apart from `[IP61]`).
pub const IPV6_PREFIX: &str = "IP6_";
/// Placeholder prefix for MAC addresses: `[MAC1]`.
pub const MAC_PREFIX: &str = "MAC";
/// Placeholder prefix for container, image and network IDs: `[ID1]`.
pub const ID_PREFIX: &str = "ID";
/// Placeholder prefix for names the engine made up (`[NAME1]` for `happy_einstein`).
pub const NAME_PREFIX: &str = "NAME";
/// Placeholder prefix for ephemeral ports the engine or the kernel picked: `[PORT1]`.
pub const PORT_PREFIX: &str = "PORT";
/// Placeholder prefix for network interface indexes the kernel handed out: `[IF1]` for the `27` of
/// `27: eth0@if28:`.
pub const IFINDEX_PREFIX: &str = "IF";
/// Placeholder for any duration, elapsed time or transfer rate; never numbered, equality means nothing.
pub const TIME_PLACEHOLDER: &str = "[TIME]";
/// Placeholder for any date or timestamp; never numbered, equality means nothing.
pub const DATE_PLACEHOLDER: &str = "[DATE]";

/// The kind of a volatile value. Values of a numbered class keep their identity across a page; the others
/// (clocks) only keep their kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// `172.18.0.2`; loopback, `0.0.0.0` and `255.255.x.x` netmasks are fixed.
    Ipv4,
    /// `fe80::42:acff:fe12:2`; `::`, `::1` and the multicast names of /etc/hosts are fixed.
    Ipv6,
    /// `02:42:ac:12:00:02`; broadcast and all-zero are fixed.
    Mac,
    /// 12 or 64 lowercase hex digits with both letters and digits, alone or after `sha256:`.
    Id,
    /// `happy_einstein`: a name `docker run` made up.
    Name,
    /// A port of the ephemeral range (32768–60999) right after an address (`0.0.0.0:32768`, `:::32768`, `[::]:32768`).
    Port,
    /// `0.003s`, `time=0.061 ms`, `Up 2 seconds`, `0:00:00`, `45.2 MB/s`.
    Time,
    /// `2026-11-26T10:00:00Z`, `Thu Nov 26 10:00:00 UTC 2026`, HTTP and log timestamps.
    Date,
    /// An interface index as `ip addr` and `ip link` print them: `27` and `28` in `27: eth0@if28: <…>`.
    /// Every container gets new ones; a page that shows `ip addr show` would fail on them otherwise.
    Ifindex,
}

/// Where a volatile value (or a placeholder an author wrote, like `[IP1]`) sits in a line, in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub range: Range<usize>,
    pub class: Class,
}

impl Class {
    /// Whether equal values of this class must stay equal (and different ones different) across a page.
    pub fn is_numbered(self) -> bool {
        !matches!(self, Class::Time | Class::Date)
    }

    fn prefix(self) -> &'static str {
        match self {
            Class::Ipv4 => IPV4_PREFIX,
            Class::Ipv6 => IPV6_PREFIX,
            Class::Mac => MAC_PREFIX,
            Class::Id => ID_PREFIX,
            Class::Name => NAME_PREFIX,
            Class::Port => PORT_PREFIX,
            Class::Ifindex => IFINDEX_PREFIX,
            Class::Time => TIME_PLACEHOLDER,
            Class::Date => DATE_PLACEHOLDER,
        }
    }

    fn placeholder(self, number: usize) -> String {
        if self.is_numbered() {
            format!("[{}{number}]", self.prefix())
        } else {
            self.prefix().to_owned()
        }
    }

    /// Regex source finding values of this class in a line; `Port` needs the address before it (group 1),
    /// and a `Name` candidate is one only with one of docker's adjectives (see [`is_volatile`]).
    fn source(self) -> &'static str {
        match self {
            Class::Ipv4 => IPV4,
            Class::Ipv6 => IPV6,
            Class::Mac => MAC,
            Class::Id => ID,
            Class::Name => NAME_CANDIDATE,
            Class::Port => PORT_IN_CONTEXT,
            Class::Ifindex => IFINDEX_IN_CONTEXT,
            Class::Time => TIME,
            Class::Date => &DATE_PATTERN,
        }
    }

    /// The bare value, no context: what a capture group in the oracle matcher may hold.
    #[cfg(test)]
    fn bare_source(self) -> &'static str {
        match self {
            Class::Port => r"\d{5}",
            Class::Ifindex => r"\d{1,7}",
            // The adjectives in the pattern itself: in a line's pattern, a loose candidate could take the
            // place of the name a `[..]` before it should have skipped to.
            Class::Name => &NAME_PATTERN,
            _ => self.source(),
        }
    }

    /// Regex source matching one value of this class or one of its placeholders, without context: the
    /// matcher that compiled a regex per line put it in a capture group where the page shows a value (it is
    /// the test oracle of the matcher now).
    #[cfg(test)]
    pub(crate) fn value_pattern(self) -> String {
        let value = self.bare_source();
        let placeholder = if self.is_numbered() {
            format!(r"\[{}\d+\]", regex::escape(self.prefix()))
        } else {
            regex::escape(self.prefix())
        };
        ascii(&format!("{value}|{placeholder}"))
    }

    /// Whether `text` is a volatile value of this class (its exceptions excluded) or one of its placeholders.
    pub(crate) fn accepts(self, text: &str) -> bool {
        if let Some(class) = placeholder_class(text) {
            return class == self;
        }
        // Where the page shows an ID, the run's value in its place is one even without a letter or a digit
        // (a short ID of twelve digits): found by its place, not by its looks.
        is_whole_value(self, text) && (self == Class::Id || is_volatile(self, text))
    }

    /// The identity of a value for numbering and binding: spellings of one value share a key (IPv6 forms,
    /// MAC case, a 64-hex ID and its 12-hex short form). A placeholder is its own key.
    pub(crate) fn key(self, text: &str) -> String {
        if placeholder_class(text).is_some() {
            return text.to_owned();
        }
        match self {
            Class::Ipv6 => text
                .parse::<Ipv6Addr>()
                .map_or_else(|_| text.to_owned(), |ip| ip.to_string()),
            Class::Mac => text.to_ascii_lowercase(),
            Class::Id => text.chars().take(12).collect(),
            _ => text.to_owned(),
        }
    }
}

/// What a reader would see on a terminal: escape sequences gone, carriage-return and backspace redraws
/// (progress bars) reduced to their final state, trailing blanks dropped, `\n` line ends.
///
/// The [`vte`] crate parses the byte stream (DEC's VT500 state machine: CSI, OSC, DCS, SOS/PM/APC
/// strings, C0 and C1 controls). Docktest's own small screen model acts on what it reports: characters
/// land at a cursor that `\r`, `\n`, backspace, tab and the CSI cursor moves (up, down, forward, back,
/// column, erase in line) act on, as `docker pull` and busybox `wget` expect from a terminal. Everything
/// else (colors, titles and hyperlinks, mode switches, cursor queries, other controls) is dropped. Lines
/// are kept as scrollback; sequences that address the screen absolutely are ignored.
pub fn normalize(raw: &str) -> String {
    // Most output and every page line hold no control character but line ends and tabs: nothing to
    // interpret, no redraw; only trailing blanks go, as on the screen.
    if raw
        .chars()
        .all(|c| c == '\n' || c == '\t' || !c.is_control())
    {
        return raw
            .split('\n')
            .map(|line| line.trim_end_matches([' ', '\t']))
            .collect::<Vec<_>>()
            .join("\n");
    }
    on_screen(raw)
}

/// [`normalize`] through the terminal model.
fn on_screen(raw: &str) -> String {
    let mut screen = Screen::default();
    vte::Parser::new().advance(&mut screen, raw.as_bytes());
    screen.finish()
}

#[derive(Default)]
struct Screen {
    rows: Vec<Vec<char>>,
    row: usize,
    col: usize,
}

impl Screen {
    fn line(&mut self) -> &mut Vec<char> {
        if self.rows.len() <= self.row {
            self.rows.resize_with(self.row + 1, Vec::new);
        }
        &mut self.rows[self.row]
    }

    #[inline]
    fn put(&mut self, c: char) {
        let col = self.col;
        let line = self.line();
        if col < line.len() {
            line[col] = c;
        } else {
            line.resize(col, ' ');
            line.push(c);
        }
        self.col += 1;
    }

    fn down(&mut self, n: usize) {
        self.row += n;
        self.col = 0;
        self.line();
    }

    fn finish(self) -> String {
        let lines: Vec<String> = self
            .rows
            .iter()
            .map(|row| {
                let line: String = row.iter().collect();
                line.trim_end_matches([' ', '\t']).to_owned()
            })
            .collect();
        lines.join("\n")
    }
}

impl vte::Perform for Screen {
    #[inline]
    fn print(&mut self, c: char) {
        // vte hands DEL over as a printable character; a terminal shows nothing.
        if c != '\x7f' {
            self.put(c);
        }
    }

    fn execute(&mut self, byte: u8) {
        match byte {
            b'\r' => self.col = 0,
            b'\n' => self.down(1),
            0x08 => self.col = self.col.saturating_sub(1),
            b'\t' => self.put('\t'),
            // Bells, NULs and the other C0 and C1 controls show nothing.
            _ => {}
        }
    }

    fn csi_dispatch(
        &mut self,
        params: &vte::Params,
        intermediates: &[u8],
        ignore: bool,
        action: char,
    ) {
        if ignore {
            return;
        }
        // A missing parameter reads as 0; the moves count it as 1.
        let first = params
            .iter()
            .next()
            .and_then(|p| p.first())
            .copied()
            .unwrap_or(0);
        let n = usize::from(first);
        let count = n.max(1);
        match (intermediates, action) {
            ([], 'A') => self.row = self.row.saturating_sub(count),
            ([], 'B') => {
                let col = self.col;
                self.down(count);
                self.col = col;
            }
            ([], 'C') => self.col += count,
            ([], 'D') => self.col = self.col.saturating_sub(count),
            ([], 'G') => self.col = count - 1,
            // EL, and DECSEL (`CSI ? K`), which erases the same on a screen with no protected cells.
            ([] | [b'?'], 'K') => {
                let col = self.col;
                let line = self.line();
                match n {
                    0 => line.truncate(col),
                    1 => line.iter_mut().take(col + 1).for_each(|c| *c = ' '),
                    _ => line.clear(),
                }
            }
            // Other finals, and finals after a private marker or an intermediate (`CSI ? 25 l`,
            // `CSI SP A`), are other functions.
            _ => {}
        }
    }
}

/// Adjectives of moby's `pkg/namesgenerator` (frozen list): the left half of `docker run`'s made-up names.
const ADJECTIVES: &[&str] = &[
    "admiring",
    "adoring",
    "affectionate",
    "agitated",
    "amazing",
    "angry",
    "awesome",
    "beautiful",
    "blissful",
    "bold",
    "boring",
    "brave",
    "busy",
    "charming",
    "clever",
    "compassionate",
    "competent",
    "condescending",
    "confident",
    "cool",
    "cranky",
    "crazy",
    "dazzling",
    "determined",
    "distracted",
    "dreamy",
    "eager",
    "ecstatic",
    "elastic",
    "elated",
    "elegant",
    "eloquent",
    "epic",
    "exciting",
    "fervent",
    "festive",
    "flamboyant",
    "focused",
    "friendly",
    "frosty",
    "funny",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "great",
    "happy",
    "hardcore",
    "heuristic",
    "hopeful",
    "hungry",
    "infallible",
    "inspiring",
    "intelligent",
    "interesting",
    "jolly",
    "jovial",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
    "musing",
    "mystifying",
    "naughty",
    "nervous",
    "nice",
    "nifty",
    "nostalgic",
    "objective",
    "optimistic",
    "peaceful",
    "pedantic",
    "pensive",
    "practical",
    "priceless",
    "quirky",
    "quizzical",
    "recursing",
    "relaxed",
    "reverent",
    "romantic",
    "sad",
    "serene",
    "sharp",
    "silly",
    "sleepy",
    "stoic",
    "strange",
    "stupefied",
    "suspicious",
    "sweet",
    "tender",
    "thirsty",
    "trusting",
    "unruffled",
    "upbeat",
    "vibrant",
    "vigilant",
    "vigorous",
    "wizardly",
    "wonderful",
    "xenodochial",
    "youthful",
    "zealous",
    "zen",
];

const IPV4: &str = r"\b(?:\d{1,3}\.){3}\d{1,3}\b";
// Candidates only: `Ipv6Addr` parsing decides, which keeps out times (`10:00:00`) and MACs.
// The embedded IPv4 form comes first so that `::ffff:172.18.0.2` is not cut after `172`.
const IPV6: &str = r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4})";
const MAC: &str = r"\b[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}\b";
const ID: &str = r"\b(?:[0-9a-f]{64}|[0-9a-f]{12})\b";
// In context only: after an address, `]` (`[::]:`) or `:::`; the port itself is group 1.
const PORT_IN_CONTEXT: &str = r"(?:\b(?:\d{1,3}\.){3}\d{1,3}|\]|::):(\d{5})\b";
/// An index at the start of an `ip` line (`27: eth0`, the interface name checked by `fits_context`) or after
/// `@if` (`eth0@if28`).
const IFINDEX_IN_CONTEXT: &str = r"(?:^|@if)(\d{1,7})\b";
const TIME: &str = concat!(
    // ping summaries: `min/avg/max = 0.061/0.075/0.089 ms`
    r"\b\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)+ ?ms\b",
    // `12ms`, `0.003s`, `1m30s`, `0m0.001s`
    r"|\b(?:\d+(?:\.\d+)?(?:ms|µs|us|ns|h|m|s))+\b",
    // `time=0.061 ms`
    r"|\b\d+(?:\.\d+)? (?:ms|µs|us|ns)\b",
    // busybox wget ETA and elapsed time: `0:00:00`
    r"|\b\d{1,2}:\d{2}:\d{2}\b",
    // docker's human durations: `3 seconds ago`, `Up About a minute`, `Less than a second`
    r"|\b(?:Less than a second|About an? (?:minute|hour)|\d+ (?:second|minute|hour|day|week|month|year)s?)(?: ago)?\b",
    // transfer rates are timing too: `45.2 MB/s`, `1.2M/s`
    r"|\b\d+(?:\.\d+)? ?[kKMG]?i?B/s\b|\b\d+(?:\.\d+)?[kKMG]/s",
);
const MONTH: &str = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const WEEKDAY: &str = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";

/// A word shaped like a name `docker run` makes up: with the adjectives left to [`is_volatile`], the finder
/// takes a tenth of the work of the adjectives' alternation (`NAME_PATTERN`) to compile and finds the same
/// words, as both match whole words only.
const NAME_CANDIDATE: &str = r"\b[a-z]+_[a-z]+[0-9]?\b";

/// A name with docker's adjectives in the pattern itself: the oracle matcher's, and the finder's check.
#[cfg(test)]
static NAME_PATTERN: LazyLock<String> =
    LazyLock::new(|| format!(r"\b(?:{})_[a-z]+[0-9]?\b", ADJECTIVES.join("|")));

static DATE_PATTERN: LazyLock<String> = LazyLock::new(|| {
    [
        // ISO 8601 and Go's time.String(): `2026-11-26T10:00:00.123Z`, `2026-11-26 10:00:00 +0000 UTC`
        r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2}\b)?(?: [+-]\d{4}(?: [A-Z]{2,5})?)?)?".to_owned(),
        // nginx error log: `2026/11/26 10:00:00`
        r"\b\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\b".to_owned(),
        // date(1): `Thu Nov 26 10:00:00 UTC 2026`
        format!(r"\b{WEEKDAY} {MONTH} +\d{{1,2}} \d{{2}}:\d{{2}}:\d{{2}}(?: [A-Z]{{2,5}})? \d{{4}}\b"),
        // HTTP headers: `Thu, 26 Nov 2026 10:00:00 GMT`
        format!(r"\b{WEEKDAY}, \d{{2}} {MONTH} \d{{4}} \d{{2}}:\d{{2}}:\d{{2}} GMT\b"),
        // access logs: `26/Nov/2026:10:00:00 +0000`
        format!(r"\b\d{{2}}/{MONTH}/\d{{4}}:\d{{2}}:\d{{2}}:\d{{2}} [+-]\d{{4}}"),
        // Python's http.server log: `26/Nov/2026 10:00:00`
        format!(r"\b\d{{2}}/{MONTH}/\d{{4}} \d{{2}}:\d{{2}}:\d{{2}}\b"),
    ]
    .join("|")
});

/// A pattern with ASCII classes (`\d`, `\b`): the values are ASCII, and Unicode-aware classes make a
/// pattern several times slower to compile, a cost every `mdbook build` and every line the matcher compiles
/// pays. The finders, the whole-value checks and the matcher's value patterns all read values this way.
fn ascii(source: &str) -> String {
    format!("(?-u:{source})")
}

/// Whether `text` is, as a whole, shaped like a value of `class` (its bare pattern, anchored): by hand
/// where the shape is simple, else by the finders, which a line's matching has compiled already (compiling
/// an anchored pattern per class cost more than a book's checks).
fn is_whole_value(class: Class, text: &str) -> bool {
    let digits = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    match class {
        Class::Ipv4 => {
            let parts: Vec<&str> = text.split('.').collect();
            parts.len() == 4 && parts.iter().all(|p| digits(p, 1..=3))
        }
        Class::Mac => {
            let parts: Vec<&str> = text.split(':').collect();
            parts.len() == 6 && parts.iter().all(|p| hex(p, 2))
        }
        Class::Id => {
            (text.len() == 12 || text.len() == 64)
                && text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        Class::Port => digits(text, 5..=5),
        Class::Ifindex => digits(text, 1..=7),
        Class::Name => text.split_once('_').is_some_and(|(adjective, rest)| {
            let letters = rest.trim_end_matches(|c: char| c.is_ascii_digit());
            ADJECTIVES.contains(&adjective)
                && rest.len() - letters.len() <= 1
                && !letters.is_empty()
                && letters.bytes().all(|b| b.is_ascii_lowercase())
        }),
        Class::Ipv6 | Class::Time | Class::Date => {
            matches!(&volatile_spans(text)[..], [span] if span.class == class && span.range == (0..text.len()))
        }
    }
}

const PLACEHOLDER: &str = r"\[(?:(IP6_|IP|MAC|ID|NAME|PORT|IF)\d+|(TIME|DATE))\]";

struct Rule {
    class: Option<Class>,
    regex: meta::Regex,
}

impl Rule {
    /// Where the rule finds values in `line`: a finder's group 1 when it has one (a port after its
    /// address), else the whole match. Only such a finder asks for captures, which cost more than finding
    /// the match alone.
    fn found(&self, line: &str) -> Vec<Range<usize>> {
        if !may_hold(self.class, line) {
            return Vec::new();
        }
        if self.class.is_some() && self.regex.captures_len() > 1 {
            self.regex
                .captures_iter(line)
                .filter_map(|caps| {
                    caps.get_group(1)
                        .or_else(|| caps.get_match().map(|m| m.span()))
                })
                .map(|span| span.range())
                .collect()
        } else {
            self.regex.find_iter(line).map(|m| m.range()).collect()
        }
    }
}

/// Whether `line` holds what every match of the finder for `class` (`None`: placeholders) needs: most
/// lines of output lack the byte a finder needs, and looking is cheaper than searching.
fn may_hold(class: Option<Class>, line: &str) -> bool {
    let digit = || line.bytes().any(|b| b.is_ascii_digit());
    match class {
        None => line.contains('['),
        Some(Class::Date | Class::Ifindex) => digit(),
        Some(Class::Port | Class::Mac | Class::Ipv6) => line.contains(':'),
        Some(Class::Ipv4) => line.contains('.'),
        Some(Class::Id) => line
            .as_bytes()
            .split(|b| !(b.is_ascii_digit() || (b'a'..=b'f').contains(b)))
            .any(|run| run.len() >= 12),
        Some(Class::Name) => line.contains('_'),
        Some(Class::Time) => {
            digit() || line.contains("Less than a second") || line.contains("About a")
        }
    }
}

/// Finders in priority order: a span is kept only if no earlier finder claimed any of its bytes (a date
/// holds a time of day, `:::32768` holds something IPv6-shaped, a MAC looks like a time).
///
/// Built without literal prefilters: looking for their literals was half the work of compiling the
/// finders, on the critical path of every first build, and lines are too short for a prefilter to pay.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |class: Option<Class>, source: &str| Rule {
        class,
        regex: meta::Regex::builder()
            .configure(meta::Regex::config().auto_prefilter(false).dfa(false))
            .build(&ascii(source))
            .expect("built-in redaction pattern"),
    };
    let priority = [
        Class::Date,
        Class::Ifindex,
        Class::Port,
        Class::Mac,
        Class::Ipv6,
        Class::Ipv4,
        Class::Id,
        Class::Name,
        Class::Time,
    ];
    std::iter::once(rule(None, PLACEHOLDER))
        .chain(priority.map(|class| rule(Some(class), class.source())))
        .collect()
});

/// Compiles the finders ahead of their first use (a tenth of a first build's preprocessor): the
/// preprocessor has it done while mdBook is still writing the book to its stdin.
pub(crate) fn prepare() {
    LazyLock::force(&RULES);
}

/// Whether a line holds a placeholder (`[IP1]`, `[TIME]`): text redacted, or written by an author, whose
/// width is not the width of the value it stands for.
pub(crate) fn holds_placeholder(line: &str) -> bool {
    line.match_indices('[').any(|(at, _)| {
        line[at..]
            .find(']')
            .is_some_and(|end| placeholder_class(&line[at..at + end + 1]).is_some())
    })
}

/// The class of a whole placeholder (`[IP1]`, `[IP6_2]`, `[TIME]`), as [`PLACEHOLDER`] reads one.
fn placeholder_class(text: &str) -> Option<Class> {
    let name = text.strip_prefix('[')?.strip_suffix(']')?;
    match name {
        "TIME" => return Some(Class::Time),
        "DATE" => return Some(Class::Date),
        _ => {}
    }
    // `IP6_` before `IP`: `[IP6_1]` is an IPv6 address, `[IP61]` the 61st IPv4 one.
    [
        (IPV6_PREFIX, Class::Ipv6),
        (IPV4_PREFIX, Class::Ipv4),
        (MAC_PREFIX, Class::Mac),
        (ID_PREFIX, Class::Id),
        (NAME_PREFIX, Class::Name),
        (PORT_PREFIX, Class::Port),
        (IFINDEX_PREFIX, Class::Ifindex),
    ]
    .into_iter()
    .find_map(|(prefix, class)| {
        let number = name.strip_prefix(prefix)?;
        (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())).then_some(class)
    })
}

fn is_ephemeral_port(port: u32) -> bool {
    // Linux's default net.ipv4.ip_local_port_range, which Docker also uses for published ports.
    (32768..=60999).contains(&port)
}

/// The exceptions: values that look volatile but are fixed by convention or configuration.
fn is_volatile(class: Class, text: &str) -> bool {
    match class {
        Class::Ipv4 => {
            let octets: Vec<u32> = text.split('.').filter_map(|o| o.parse().ok()).collect();
            let [a, b, c, d] = octets[..] else {
                return false;
            };
            let valid = [a, b, c, d].iter().all(|&o| o <= 255);
            // Loopback (127.0.0.11 is Docker's embedded DNS), "any", and netmasks stay as written.
            valid && a != 127 && (a, b, c, d) != (0, 0, 0, 0) && (a, b) != (255, 255)
        }
        Class::Ipv6 => match text.parse::<Ipv6Addr>() {
            // `::`, `::1`, multicast (`ff02::1 ip6-allnodes`) and `fe00::0 ip6-localnet` of /etc/hosts.
            Ok(ip) => {
                !ip.is_unspecified()
                    && !ip.is_loopback()
                    && !ip.is_multicast()
                    && ip != Ipv6Addr::new(0xfe00, 0, 0, 0, 0, 0, 0, 0)
            }
            Err(_) => false,
        },
        Class::Mac => {
            let lower = text.to_ascii_lowercase();
            lower != "ff:ff:ff:ff:ff:ff" && lower != "00:00:00:00:00:00"
        }
        Class::Id => {
            text.bytes().any(|b| b.is_ascii_digit()) && text.bytes().any(|b| b.is_ascii_lowercase())
        }
        Class::Port => text.parse::<u32>().is_ok_and(is_ephemeral_port),
        // The loopback is always 1, in every namespace.
        Class::Ifindex => text != "1",
        Class::Name => text
            .split_once('_')
            .is_some_and(|(adjective, _)| ADJECTIVES.contains(&adjective)),
        Class::Time | Class::Date => true,
    }
}

/// Whether the bytes around a candidate make it part of something longer (a version `1.2.3.4.5`, a word).
fn fits_context(class: Class, line: &str, range: &Range<usize>) -> bool {
    let before = line[..range.start].chars().next_back();
    let after = line[range.end..].chars().next();
    match class {
        Class::Ipv4 => {
            let mut rest = line[range.end..].chars();
            let dotted_on =
                rest.next() == Some('.') && rest.next().is_some_and(|c| c.is_ascii_digit());
            before != Some('.') && !dotted_on
        }
        Class::Ipv6 => {
            let wordy = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            !wordy(before) && !wordy(after) && after != Some(':') && after != Some('.')
        }
        // At the start of a line only as `ip` prints an interface: `27: eth0@if28: <BROADCAST,…`.
        Class::Ifindex if range.start == 0 => {
            let rest = &line[range.end..];
            rest.strip_prefix(": ").is_some_and(|name| {
                name.starts_with(|c: char| c.is_ascii_alphabetic())
                    && name
                        .split_once(": <")
                        .is_some_and(|(name, _)| !name.contains(' '))
            })
        }
        // `00:00:00` inside `00:00:00:00:00:00` is not a time.
        Class::Time if line[range.clone()].contains(':') => {
            before != Some(':') && after != Some(':')
        }
        _ => true,
    }
}

thread_local! {
    /// The spans of lines already looked at: each look is nine regex searches.
    static SPANS: Remembered<Vec<Span>> = Remembered::new(4096);
}

/// The volatile values of one line, and the placeholders already in it, in order, non-overlapping.
pub fn volatile_spans(line: &str) -> Vec<Span> {
    SPANS.with(|spans| spans.get(line, || find_spans(line)))
}

fn find_spans(line: &str) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    for rule in RULES.iter() {
        for range in rule.found(line) {
            let class = match rule.class {
                None => match placeholder_class(&line[range.clone()]) {
                    Some(class) => class,
                    None => continue,
                },
                Some(class) => class,
            };
            if range.is_empty()
                || (rule.class.is_some() && !is_volatile(class, &line[range.clone()]))
                || !fits_context(class, line, &range)
            {
                continue;
            }
            if !overlaps(&spans, &range) {
                spans.push(Span { range, class });
            }
        }
    }
    spans.sort_by_key(|s| s.range.start);
    spans
}

/// Whether `range` overlaps one of `spans`.
fn overlaps(spans: &[Span], range: &Range<usize>) -> bool {
    spans
        .iter()
        .any(|s| s.range.start < range.end && range.start < s.range.end)
}

/// The spaces tabwriter leaves after a column's longest cell, in Docker's tables and in snapshots'.
const TABLE_PADDING: usize = 3;

/// A table as Docker, Podman and `ps` print one (Go's tabwriter): a header of upper-case column names, then
/// rows, every cell padded to its column's width. Its widths follow its longest cells, so they are the
/// machine's and the run's, not the output's: snapshots re-align tables after redaction, and the matcher
/// compares them cell by cell.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    /// The header's line.
    pub header: usize,
    /// Where the header's columns start, in characters.
    pub columns: Vec<usize>,
    /// The lines after the header up to a blank line or the end.
    pub rows: Range<usize>,
}

impl Table {
    /// The cells of a line cut where the table's columns start, trimmed; `None` when a cut would go through
    /// a word (the line does not sit in these columns).
    pub(crate) fn cells<'a>(&self, line: &'a str) -> Option<Vec<&'a str>> {
        cut(line, &self.columns)
    }
}

/// The tables of some lines: each starts at a header line outside an earlier table.
pub(crate) fn tables(lines: &[String]) -> Vec<Table> {
    let mut tables = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(columns) = header_columns(&lines[i]) else {
            i += 1;
            continue;
        };
        let header = i;
        i += 1;
        while i < lines.len() && !lines[i].trim().is_empty() {
            i += 1;
        }
        tables.push(Table {
            header,
            columns,
            rows: header + 1..i,
        });
    }
    tables
}

/// Where the columns of a table header start, in characters: a line of two or more upper-case names
/// (`NETWORK ID`, `CPU %`) separated by runs of two or more spaces, starting at its first column. Docker's
/// tables, Podman's and `ps`'s look like that; prose, logs and data rows have lower-case letters or values.
fn header_columns(line: &str) -> Option<Vec<usize>> {
    // The cheap tests first: most lines have no double space at all.
    if !line.contains("  ") || line.starts_with(' ') {
        return None;
    }
    let names = spaced_pieces(line);
    let upper = |name: &str| {
        name.bytes().any(|b| b.is_ascii_uppercase()) && !name.chars().any(char::is_lowercase)
    };
    if names.len() < 2 || !names.iter().all(|(_, name)| upper(name)) {
        return None;
    }
    // `[IP1]   [MAC1]` in a redacted snapshot is a row, whatever its letters; so is `02:42:AC:11:00:02`.
    if !volatile_spans(line).is_empty() {
        return None;
    }
    Some(names.into_iter().map(|(start, _)| start).collect())
}

/// The cells of a line cut where the columns start, trimmed; `None` when a cut would go through a word
/// (the line does not sit in these columns).
fn cut<'a>(line: &'a str, columns: &[usize]) -> Option<Vec<&'a str>> {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let byte = |c: usize| chars.get(c).map_or(line.len(), |&(b, _)| b);
    let is_space = |c: usize| chars.get(c).is_some_and(|&(_, ch)| ch == ' ');
    let mut cells = Vec::with_capacity(columns.len());
    for (i, &start) in columns.iter().enumerate() {
        let start = if i == 0 { 0 } else { start };
        if start > 0 && start < chars.len() && !is_space(start - 1) && !is_space(start) {
            return None;
        }
        let end = columns.get(i + 1).map_or(line.len(), |&next| byte(next));
        cells.push(line[byte(start).min(end)..end].trim());
    }
    Some(cells)
}

/// The pieces of a line between runs of two or more spaces, with the character each starts at.
pub(crate) fn spaced_pieces(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None; // (char, byte) where the current piece starts
    let mut spaces = 0;
    let mut end = 0; // byte after the current piece's last non-space
    for (c, (b, ch)) in line.char_indices().enumerate() {
        if ch == ' ' {
            spaces += 1;
            continue;
        }
        match start {
            Some((first, from)) if spaces >= 2 => {
                out.push((first, &line[from..end]));
                start = Some((c, b));
            }
            None => start = Some((c, b)),
            Some(_) => {}
        }
        spaces = 0;
        end = b + ch.len_utf8();
    }
    if let Some((c, from)) = start {
        out.push((c, &line[from..end]));
    }
    out
}

/// One entry of a JSON object keyed by an ID: its key line and closing line.
#[derive(Debug, Clone)]
struct Entry {
    id: String,
    start: usize,
    end: usize,
}

/// The entries keyed by IDs that follow one another from line `at` on, at one indentation, if one starts
/// there.
fn keyed_entries(lines: &[String], mut at: usize) -> Option<Vec<Entry>> {
    static KEY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"^( *)"([0-9a-f]{64}|[0-9a-f]{12})": \{$"#).expect("entry pattern")
    });
    let mut entries = Vec::new();
    let mut indent: Option<String> = None;
    while let Some(caps) = lines.get(at).and_then(|l| KEY.captures(l)) {
        let (pad, id) = (&caps[1], &caps[2]);
        if indent.as_deref().is_some_and(|i| i != pad) || !is_volatile(Class::Id, id) {
            break;
        }
        let close = format!("{pad}}}");
        let end = (at + 1..lines.len())
            .find(|&j| lines[j] == close || lines[j] == format!("{close},"))?;
        entries.push(Entry {
            id: id.to_owned(),
            start: at,
            end,
        });
        indent = Some(pad.to_owned());
        at = end + 1;
    }
    (!entries.is_empty()).then_some(entries)
}

/// A line with its volatile values left out, to order entries by what stays the same from run to run.
fn without_values(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut last = 0;
    for span in volatile_spans(line) {
        out.push_str(&line[last..span.range.start]);
        last = span.range.end;
    }
    out.push_str(&line[last..]);
    out
}

static BUSYBOX_BAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d%) \|(\**)( *)\|").expect("bar pattern"));
static WGET_BAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d%)\[(=*)(>?)( *)\]").expect("bar pattern"));
static CURL_BAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^#+( +\d+(?:\.\d+)?%)$").expect("bar pattern"));

/// A line's progress bar drawn at one width, or `None` when the line holds no bar. busybox `wget` draws
/// `|*****     |` as wide as the terminal minus 49 columns, GNU `wget` `[====>    ]` and `curl -#` a row
/// of `#` as wide as the terminal too, and a terminal's width is the machine's, not the output's (even
/// `docker exec -t` starts at 80 columns or at its terminal's, as the resize races the command). The bar
/// keeps its state, not its width: `|*|` full, `|* |` partly filled, `| |` empty; the percentage next to
/// it stays as printed. Only a bar next to its percentage counts: `| |` or `[==]` elsewhere is text.
pub(crate) fn bar_at_one_width(line: &str) -> Option<String> {
    if !line.contains('%') {
        return None;
    }
    let mark = |caps: &regex::Captures<'_>, group: usize, mark: &str| {
        if caps.get(group).is_some_and(|m| !m.is_empty()) {
            mark.to_string()
        } else {
            String::new()
        }
    };
    // Each bar's pattern compiled only for a line that can hold it: `%` is also a ping's packet loss.
    if line.contains("% |") && BUSYBOX_BAR.is_match(line) {
        let form = BUSYBOX_BAR.replace(line, |caps: &regex::Captures<'_>| {
            format!(
                "{} |{}{}|",
                &caps[1],
                mark(caps, 2, "*"),
                mark(caps, 3, " ")
            )
        });
        return Some(form.into_owned());
    }
    if line.contains("%[") && WGET_BAR.is_match(line) {
        let form = WGET_BAR.replace(line, |caps: &regex::Captures<'_>| {
            let (fill, head, rest) = (mark(caps, 2, "="), mark(caps, 3, ">"), mark(caps, 4, " "));
            format!("{}[{fill}{head}{rest}]", &caps[1])
        });
        return Some(form.into_owned());
    }
    if line.starts_with('#') && CURL_BAR.is_match(line) {
        return Some(CURL_BAR.replace(line, "#$1").into_owned());
    }
    None
}

/// Replaces volatile values by placeholders numbered in order of first appearance. Keep one per page: the
/// numbers are what lets a snapshot say "the address shown here is the one shown three blocks above".
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    numbers: HashMap<(Class, String), usize>,
    counts: HashMap<Class, usize>,
    /// Short IDs of the page's objects that text alone cannot tell from a number or a word (twelve digits,
    /// about one container in 280, or twelve letters): redacted wherever they stand as a word.
    ambiguous_ids: Vec<String>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Redacts normalized text (see [`normalize`]); placeholders already present are left as they are.
    /// What changes from run to run without being a value is made steady too, so that a snapshot of the same
    /// output is the same snapshot: progress bars are drawn at one width, the entries of a JSON object keyed
    /// by IDs come in a steady order, and tables are re-aligned around their placeholders.
    pub fn redact(&mut self, text: &str) -> String {
        let mut lines: Vec<String> = text
            .split('\n')
            .map(|line| bar_at_one_width(line).unwrap_or_else(|| line.to_owned()))
            .collect();
        self.steady_order(&mut lines);
        let tables = tables(&lines);
        let mut out: Vec<String> = Vec::with_capacity(lines.len());
        // Line by line, so that values are numbered in the order they appear.
        let mut i = 0;
        while i < lines.len() {
            if let Some(table) = tables.iter().find(|t| t.header == i) {
                if let Some(rows) = self.realigned(table, &lines) {
                    out.extend(rows);
                    i = table.rows.end;
                    continue;
                }
            }
            out.push(self.redact_line(&lines[i]));
            i += 1;
        }
        out.join("\n")
    }

    /// Tells the redactor the IDs of objects the page made (full or short), so that their short forms are
    /// redacted even where they have no letter or no digit: `docker ps` shows `123456789012` for a container
    /// whose full ID `docker run -d` never printed.
    pub fn know_ids<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) {
        for id in ids {
            let id = id.strip_prefix("sha256:").unwrap_or(id);
            let short = Class::Id.key(id);
            let hex = short.len() == 12
                && short
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if hex && !is_volatile(Class::Id, &short) && !self.ambiguous_ids.contains(&short) {
                self.ambiguous_ids.push(short);
            }
        }
    }

    /// `volatile_spans`, plus the known ambiguous short IDs standing alone as words.
    fn spans(&self, line: &str) -> Vec<Span> {
        let mut spans = volatile_spans(line);
        for id in &self.ambiguous_ids {
            for (start, _) in line.match_indices(id.as_str()) {
                let range = start..start + id.len();
                let wordy = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
                let alone = !wordy(line[..start].chars().next_back())
                    && !wordy(line[range.end..].chars().next());
                if alone && !overlaps(&spans, &range) {
                    spans.push(Span {
                        range,
                        class: Class::Id,
                    });
                }
            }
        }
        spans.sort_by_key(|s| s.range.start);
        spans
    }

    fn redact_line(&mut self, line: &str) -> String {
        let mut out = String::with_capacity(line.len());
        let mut last = 0;
        for span in self.spans(line) {
            let value = &line[span.range.clone()];
            out.push_str(&line[last..span.range.start]);
            if placeholder_class(value).is_some() {
                out.push_str(value);
            } else {
                out.push_str(&self.placeholder(span.class, value));
            }
            last = span.range.end;
        }
        out.push_str(&line[last..]);
        out
    }

    /// A table's lines redacted cell by cell and aligned again as tabwriter aligns them (three spaces after
    /// the longest cell of each column): padded as printed, a row would keep the width of the values its
    /// placeholders replaced, and change whenever a duration got longer. `None`, and nothing numbered, when
    /// a line does not sit in the header's columns.
    fn realigned(&mut self, table: &Table, lines: &[String]) -> Option<Vec<String>> {
        let all = table.header..table.rows.end;
        let cells: Vec<Vec<&str>> = lines[all]
            .iter()
            .map(|l| table.cells(l))
            .collect::<Option<_>>()?;
        let cells: Vec<Vec<String>> = cells
            .into_iter()
            .map(|row| row.into_iter().map(|cell| self.redact_line(cell)).collect())
            .collect();
        let widths: Vec<usize> = (0..table.columns.len())
            .map(|c| {
                cells
                    .iter()
                    .map(|row| row[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let rows = cells.iter().map(|row| {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if c + 1 < row.len() {
                    let pad = widths[c] + TABLE_PADDING - cell.chars().count();
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            line.trim_end().to_owned()
        });
        Some(rows.collect())
    }

    /// Puts the entries of a pretty-printed JSON object keyed by IDs (the `Containers` of `docker network
    /// inspect`) in a steady order. The engine sorts them by ID, and a new run's random IDs sort another way,
    /// which would change the snapshot every other run. IDs the page showed before come in the order their
    /// placeholders were numbered (the order the page met them), others by what their entry holds, its
    /// volatile values left out. An entry's commas stay where they were.
    fn steady_order(&self, lines: &mut [String]) {
        if !lines.iter().any(|l| l.ends_with("\": {")) {
            return;
        }
        let mut i = 0;
        while i < lines.len() {
            let Some(group) = keyed_entries(lines, i) else {
                i += 1;
                continue;
            };
            let end = group.last().map_or(i, |e| e.end);
            if group.len() > 1 {
                let order_of = |entry: &Entry| {
                    let number = self.numbers.get(&(Class::Id, Class::Id.key(&entry.id)));
                    let body: String = lines[entry.start + 1..entry.end]
                        .iter()
                        .map(|l| without_values(l))
                        .collect();
                    (number.copied().unwrap_or(usize::MAX), body)
                };
                let mut sorted = group.clone();
                sorted.sort_by_cached_key(order_of);
                let closing: Vec<bool> =
                    group.iter().map(|e| lines[e.end].contains("},")).collect();
                let mut reordered: Vec<String> = Vec::new();
                for (entry, comma) in sorted.iter().zip(closing) {
                    let mut block = lines[entry.start..=entry.end].to_vec();
                    let last = block.last_mut().expect("an entry has a closing line");
                    *last = last.replacen("},", "}", 1);
                    if comma {
                        *last = last.replacen('}', "},", 1);
                    }
                    reordered.extend(block);
                }
                lines[i..=end].clone_from_slice(&reordered);
            }
            i = end + 1;
        }
    }

    fn placeholder(&mut self, class: Class, value: &str) -> String {
        if !class.is_numbered() {
            return class.placeholder(0);
        }
        if class == Class::Id {
            // A full ID whose short form is all digits: `docker ps` will show that form next.
            self.know_ids([value]);
        }
        let key = (class, class.key(value));
        let number = match self.numbers.get(&key) {
            Some(&n) => n,
            None => {
                let count = self.counts.entry(class).or_default();
                *count += 1;
                self.numbers.insert(key, *count);
                *count
            }
        };
        class.placeholder(number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> String {
        Redactor::new().redact(text)
    }

    #[test]
    fn interface_indexes_are_numbered() {
        // Every container's interfaces get new indexes: `ip addr show` on a page must still match.
        let mut page = Redactor::new();
        assert_eq!(
            page.redact("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n27: eth0@if28: <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> mtu 1500\n"),
            "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n[IF1]: eth0@if[IF2]: <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> mtu 1500\n"
        );
        // Only where `ip` prints them: other numbers at the start of a line stay.
        assert_eq!(
            redact("27: not an interface\n3: a b: <c>\n"),
            "27: not an interface\n3: a b: <c>\n"
        );
    }

    #[test]
    fn ipv4_addresses_are_numbered() {
        // The bread and butter of a networking guide: container addresses change with every run.
        assert_eq!(
            redact("inet 172.18.0.2/16 brd 172.18.255.255 scope global eth0"),
            "inet [IP1]/16 brd [IP2] scope global eth0"
        );
    }

    #[test]
    fn ipv4_inside_longer_dotted_numbers_is_left_alone() {
        // Version strings with four or more parts are not addresses.
        assert_eq!(
            redact("version 1.2.3.4.5 and 300.1.1.1"),
            "version 1.2.3.4.5 and 300.1.1.1"
        );
    }

    #[test]
    fn ipv6_addresses_are_numbered() {
        // Link-local and ULA addresses derive from MACs and pools that change between runs.
        assert_eq!(
            redact("inet6 fe80::42:acff:fe12:2/64 scope link\ninet6 fd00:dead:beef::2/64"),
            "inet6 [IP6_1]/64 scope link\ninet6 [IP6_2]/64"
        );
        assert_eq!(redact("::ffff:172.18.0.2"), "[IP6_1]");
    }

    #[test]
    fn times_and_macs_are_not_ipv6() {
        // Colon-separated numbers are everywhere; only what parses as an address is one.
        assert_eq!(redact("at 10:00:00"), "at [TIME]");
        assert_eq!(redact("link/ether 02:42:ac:12:00:02"), "link/ether [MAC1]");
    }

    #[test]
    fn mac_addresses_are_numbered() {
        // Docker derives MACs from addresses, or randomizes them on newer engines.
        assert_eq!(
            redact("02:42:AC:12:00:02 02:42:ac:12:00:02 02:42:ac:12:00:03"),
            "[MAC1] [MAC1] [MAC2]"
        );
    }

    #[test]
    fn ids_are_numbered_and_short_ids_share_the_long_ones_number() {
        // `docker run -d` prints the full ID, `docker ps` the 12-hex prefix of the same container.
        let long = "3f4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f";
        let text = format!("{long}\n3f4e5a6b7c8d   nginx\nsha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n");
        assert_eq!(redact(&text), "[ID1]\n[ID1]   nginx\nsha256:[ID2]\n");
    }

    #[test]
    fn hex_without_both_letters_and_digits_is_not_an_id() {
        // Twelve digits are a number; twelve letters are a word.
        assert_eq!(
            redact("123456789012 deadbeefcafe"),
            "123456789012 deadbeefcafe"
        );
    }

    // Regression: about one container in 280 has a short ID of twelve digits. The page's ID did not match
    // it (the block failed), and its snapshot kept the digits where `[ID1]` was stored.
    #[test]
    fn a_short_id_of_twelve_digits_is_an_id_of_the_pages() {
        let long = "1234567890125a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b";
        let mut r = Redactor::new();
        assert_eq!(
            r.redact(&format!(
                "{long}\n123456789012   nginx\nRX bytes:1234567890123\n"
            )),
            "[ID1]\n[ID1]   nginx\nRX bytes:1234567890123\n"
        );
        // One the page never printed in full: the runner names the page's objects.
        let mut r = Redactor::new();
        r.know_ids(["987654321098aaaa", "deadbeefcafe"]);
        assert_eq!(
            r.redact("root@987654321098:/# hostname -i 987654321098x deadbeefcafe"),
            "root@[ID1]:/# hostname -i 987654321098x [ID2]"
        );
        assert!(Class::Id.accepts("123456789012"));
        assert!(!Class::Id.accepts("12345678901"));
    }

    #[test]
    fn generated_names_are_numbered() {
        // Containers started without --name get a random adjective_surname.
        assert_eq!(
            redact("happy_einstein, zen_lovelace3, happy_einstein, my_web"),
            "[NAME1], [NAME2], [NAME1], my_web"
        );
    }

    #[test]
    fn name_candidates_are_the_names_the_adjective_pattern_finds() {
        // The finder matches any `word_word` and leaves the adjective to `is_volatile`; it must find exactly
        // the whole-word names the adjective pattern (still what a line's pattern uses) finds.
        let pattern = Regex::new(&ascii(&NAME_PATTERN)).unwrap();
        let lines = [
            "happy_einstein, zen_lovelace3, my_web, admiring_foo_bar",
            "happy_einstein12 Xhappy_einstein happy_Einstein happy_einsteiné happy_ happy__x",
            "web-happy_einstein.local sad_x9 boring_wozniak-2 nonsad_x sadly_x",
        ];
        for line in lines {
            let found: Vec<&str> = volatile_spans(line)
                .iter()
                .filter(|s| s.class == Class::Name)
                .map(|s| &line[s.range.clone()])
                .collect();
            let want: Vec<&str> = pattern.find_iter(line).map(|m| m.as_str()).collect();
            assert_eq!(found, want, "{line}");
        }
        assert!(ADJECTIVES
            .iter()
            .all(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_lowercase())));
    }

    #[test]
    fn values_are_ascii() {
        // Values are read with ASCII digits and word boundaries, as the matcher's value patterns read
        // them: a time in other digits is text the page must show as it is.
        assert_eq!(redact("time=١٢ ms took 12ms"), "time=١٢ ms took [TIME]");
        assert_eq!(
            redact("٣ seconds ago, 3 seconds ago"),
            "٣ seconds ago, [TIME]"
        );
        assert_eq!(redact("éhappy_einstein"), "é[NAME1]");
    }

    #[test]
    fn durations_become_time() {
        // Clocks never repeat; their value carries no equality worth checking.
        let lines = [
            ("real\t0m0.001s", "real\t[TIME]"),
            (
                "took 0.003s, then 12ms, then 1m30s",
                "took [TIME], then [TIME], then [TIME]",
            ),
            (
                "64 bytes from 172.18.0.2: seq=0 ttl=64 time=0.061 ms",
                "64 bytes from [IP1]: seq=0 ttl=64 time=[TIME]",
            ),
            (
                "round-trip min/avg/max = 0.061/0.075/0.089 ms",
                "round-trip min/avg/max = [TIME]",
            ),
            ("Up 2 seconds", "Up [TIME]"),
            ("Up About a minute", "Up [TIME]"),
            ("Exited (0) 3 seconds ago", "Exited (0) [TIME]"),
            ("Less than a second ago", "[TIME]"),
            (
                "index.html 100% |****| 615  0:00:00 ETA",
                "index.html 100% |*| 615  [TIME] ETA",
            ),
            ("saved (45.2 MB/s)", "saved ([TIME])"),
        ];
        for (line, want) in lines {
            assert_eq!(redact(line), want, "{line}");
        }
    }

    #[test]
    fn docker_relative_times_are_durations() {
        // `docker ps` and `docker images` print go-units' HumanDuration, alone, after `Up` or before `ago`:
        // every phrase it makes is a clock, and the words around it (the exit code) stay.
        let lines = [
            ("4 seconds ago", "[TIME]"),
            ("1 second ago", "[TIME]"),
            ("About a minute ago", "[TIME]"),
            ("Less than a second ago", "[TIME]"),
            ("Up 3 seconds", "Up [TIME]"),
            ("Up Less than a second", "Up [TIME]"),
            ("Up About an hour", "Up [TIME]"),
            ("Up 26 hours (healthy)", "Up [TIME] (healthy)"),
            ("Up 5 days", "Up [TIME]"),
            ("Exited (0) 2 minutes ago", "Exited (0) [TIME]"),
            ("Exited (137) About an hour ago", "Exited (137) [TIME]"),
            ("3 weeks ago   4.86MB", "[TIME]   4.86MB"),
            ("2 months ago", "[TIME]"),
            ("5 years ago", "[TIME]"),
        ];
        for (line, want) in lines {
            assert_eq!(redact(line), want, "{line}");
        }
        // Words that only sound like a duration are text.
        assert_eq!(redact("Created"), "Created");
        assert_eq!(redact("a minute or so"), "a minute or so");
    }

    #[test]
    fn dates_become_date() {
        // Timestamps from inspect, date(1), HTTP headers and nginx logs.
        let lines = [
            (
                "\"Created\": \"2026-11-26T10:00:00.123456789Z\",",
                "\"Created\": \"[DATE]\",",
            ),
            ("2026-11-26 10:00:00 +0000 UTC", "[DATE]"),
            ("Thu Nov 26 10:00:00 UTC 2026", "[DATE]"),
            ("Date: Thu, 26 Nov 2026 10:00:00 GMT", "Date: [DATE]"),
            (
                "[26/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\"",
                "[[DATE]] \"GET / HTTP/1.1\"",
            ),
            (
                "2026/11/26 10:00:00 [notice] 1#1: start",
                "[DATE] [notice] 1#1: start",
            ),
        ];
        for (line, want) in lines {
            assert_eq!(redact(line), want, "{line}");
        }
    }

    #[test]
    fn ephemeral_ports_after_an_address_are_numbered() {
        // Published ports without a host port, and client source ports, are picked at random.
        assert_eq!(
            redact("0.0.0.0:32768->80/tcp, :::32768->80/tcp, [::]:32769, 172.18.0.3:45678"),
            "0.0.0.0:[PORT1]->80/tcp, :::[PORT1]->80/tcp, [::]:[PORT2], [IP1]:[PORT3]"
        );
        assert_eq!(
            redact("0.0.0.0:8080->80/tcp 0.0.0.0:61000"),
            "0.0.0.0:8080->80/tcp 0.0.0.0:61000"
        );
        assert_eq!(redact("listening on 40000"), "listening on 40000");
    }

    #[test]
    fn fixed_values_are_not_redacted() {
        // Loopback, Docker's embedded DNS, wildcards, netmasks and broadcast MACs are the same on every run.
        let fixed = "127.0.0.1 0.0.0.0 127.0.0.11 255.255.0.0 255.255.255.255 :: ::1 [::] \
                     ff:ff:ff:ff:ff:ff 00:00:00:00:00:00 ff02::1 fe00::0";
        assert_eq!(redact(fixed), fixed);
    }

    #[test]
    fn written_placeholders_are_kept_and_reported() {
        // Authors may write `[IP1]` themselves; the matcher binds it like a value.
        assert_eq!(
            redact("[IP1] [IP6_2] [TIME] [..]"),
            "[IP1] [IP6_2] [TIME] [..]"
        );
        let classes: Vec<Class> = volatile_spans("[IP1] [IP6_2] [TIME] [PORT3]")
            .into_iter()
            .map(|s| s.class)
            .collect();
        assert_eq!(
            classes,
            [Class::Ipv4, Class::Ipv6, Class::Time, Class::Port]
        );
    }

    #[test]
    fn numbers_follow_first_appearance_across_calls() {
        // One Redactor per page: a value keeps its number from block to block.
        let mut page = Redactor::new();
        assert_eq!(page.redact("172.18.0.3 172.18.0.2"), "[IP1] [IP2]");
        assert_eq!(
            page.redact("172.18.0.2 172.18.0.4 02:42:ac:12:00:02"),
            "[IP2] [IP3] [MAC1]"
        );
        assert_eq!(page.redact("172.18.0.3"), "[IP1]");
    }

    #[test]
    fn placeholders_are_found_anywhere_in_a_line() {
        // Tables whose rows hold placeholders have lost their columns' positions.
        assert!(holds_placeholder("[ID1]   bridge"));
        assert!(holds_placeholder("Up [TIME]"));
        assert!(!holds_placeholder("[::]:32768->80/tcp"));
        assert!(!holds_placeholder("[..]   bridge"));
    }

    // A bar's form keeps its state and drops its width; the percentage stays.
    #[test]
    fn progress_bars_lose_their_width() {
        let at = |line: &str| bar_at_one_width(line).expect("a bar");
        let narrow =
            "index.html           100% |*******************************|   615  0:00:00 ETA";
        let wide = "index.html           100% |***********************************************************************|   615  0:00:00 ETA";
        assert_eq!(at(narrow), at(wide));
        assert_eq!(
            at(narrow),
            "index.html           100% |*|   615  0:00:00 ETA"
        );
        // So a snapshot of the same download at another width is the same snapshot.
        assert_eq!(redact(narrow), redact(wide));
        assert_eq!(
            at("index.html            50% |***************                |   307  0:00:01 ETA"),
            "index.html            50% |* |   307  0:00:01 ETA"
        );
        assert_eq!(
            at("index.html             0% |                               |     0  --:--:-- ETA"),
            "index.html             0% | |     0  --:--:-- ETA"
        );
        assert_eq!(
            at("index.html          100%[===================>]     615  --.-KB/s    in 0s"),
            "index.html          100%[=>]     615  --.-KB/s    in 0s"
        );
        assert_eq!(
            at("######################################################################## 100.0%"),
            "# 100.0%"
        );
        // Bars need their percentage.
        assert_eq!(bar_at_one_width("| |  |**|"), None);
        assert_eq!(bar_at_one_width("50% done [ok]"), None);
    }

    // Docker's column names make a header; prose, data rows and values do not.
    #[test]
    fn headers_are_upper_case_names_in_columns() {
        assert_eq!(
            header_columns("NETWORK ID     NAME      DRIVER    SCOPE"),
            Some(vec![0, 15, 25, 35])
        );
        assert_eq!(
            header_columns("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT"),
            Some(vec![0, 15, 25, 35])
        );
        assert_eq!(header_columns("NAME DRIVER"), None);
        assert_eq!(header_columns("Filesystem  Size  Used"), None);
        assert_eq!(header_columns("  PID USER     TIME"), None);
        assert_eq!(header_columns("[IP1]   [MAC1]"), None);
        assert_eq!(header_columns("02:42:AC:11:00:02   UP"), None);
    }
    // A cut through a word means the line does not sit in the header's columns.
    #[test]
    fn rows_are_cut_where_columns_start() {
        let columns = [0, 15, 25];
        assert_eq!(
            cut("3f4e5a6b7c8d   bridge    local", &columns),
            Some(vec!["3f4e5a6b7c8d", "bridge", "local"])
        );
        // An empty cell is a cell, a long one followed by one space still ends at its column.
        assert_eq!(
            cut("3f4e5a6b7c8d             local", &columns),
            Some(vec!["3f4e5a6b7c8d", "", "local"])
        );
        assert_eq!(
            cut("a-very-long-id bridge    local", &columns),
            Some(vec!["a-very-long-id", "bridge", "local"])
        );
        assert_eq!(cut("a-very-long-name   local", &columns), None);
        // Characters, not bytes: tabwriter counts `…` as one.
        assert_eq!(
            cut("\"nginx -g…\"    up        x", &columns),
            Some(vec!["\"nginx -g…\"", "up", "x"])
        );
        assert_eq!(
            spaced_pieces("  a b   c  d "),
            [(2, "a b"), (8, "c"), (11, "d")]
        );
    }
    // Tables pad every column to its longest cell: a duration one character longer re-aligns the whole
    // table, and the snapshot must not change for it, nor keep the width of values it replaced.
    #[test]
    fn tables_are_realigned_around_their_placeholders() {
        let a = "CONTAINER ID   IMAGE     CREATED          STATUS          NAMES\n\
                 5d9f1b3e7a2c   alpine    3 seconds ago    Up 2 seconds    web\n\
                 \n\
                 done 172.17.0.2\n";
        let b = "CONTAINER ID   IMAGE     CREATED                  STATUS                  NAMES\n\
                 b8e2a6c0f4d7   alpine    Less than a second ago   Up Less than a second   web\n\
                 \n\
                 done 172.17.0.3\n";
        assert_eq!(redact(a), redact(b));
        insta::assert_snapshot!(redact(a), @r"
        CONTAINER ID   IMAGE    CREATED   STATUS      NAMES
        [ID1]          alpine   [TIME]    Up [TIME]   web

        done [IP1]
        ");
        // Values are numbered in the order they appear, in tables as elsewhere.
        let mut page = Redactor::new();
        page.redact("b8e2a6c0f4d7\n");
        assert_eq!(
            page.redact("CONTAINER ID   NAMES\n5d9f1b3e7a2c   db\nb8e2a6c0f4d7   web"),
            "CONTAINER ID   NAMES\n[ID2]          db\n[ID1]          web"
        );
        // A row that does not sit in the header's columns leaves the table as printed.
        let odd = "NAME   DRIVER\na-long-name-here bridge 172.17.0.2";
        assert_eq!(redact(odd), "NAME   DRIVER\na-long-name-here bridge [IP1]");
    }

    // `docker network inspect` sorts containers by ID; a new run's IDs sort another way, and the snapshot
    // must not change every other run.
    #[test]
    fn entries_keyed_by_ids_come_in_a_steady_order() {
        let inspect = |first: (&str, &str, &str), second: (&str, &str, &str)| {
            let entry = |(id, name, ip): (&str, &str, &str), comma: &str| {
                format!(
                    "        \"{id}\": {{\n            \"Name\": \"{name}\",\n            \"IPv4Address\": \"{ip}/16\"\n        }}{comma}\n"
                )
            };
            format!(
                "    \"Containers\": {{\n{}{}    }},\n    \"Labels\": {{}}\n",
                entry(first, ","),
                entry(second, "")
            )
        };
        let (a1, a2) = ("5d9f1b3e7a2c", "b8e2a6c0f4d7");
        let (b1, b2) = ("e4a8b0c6d2f1", "7c1e5f2a9b3d");
        // Two runs: alpine1's ID sorts first in one, last in the other.
        let run1 = inspect((a1, "alpine1", "172.17.0.2"), (a2, "alpine2", "172.17.0.3"));
        let run2 = inspect((b2, "alpine2", "172.17.0.3"), (b1, "alpine1", "172.17.0.2"));
        // Seen before (`docker run -d` printed them, alpine1 first): the order they were met in.
        let seen = |first: &str, second: &str, inspect: &str| {
            let mut page = Redactor::new();
            page.redact(&format!("{first}\n{second}\n"));
            page.redact(inspect)
        };
        let steady = seen(a1, a2, &run1);
        assert_eq!(steady, seen(b1, b2, &run2));
        insta::assert_snapshot!(steady, @r#"
            "Containers": {
                "[ID1]": {
                    "Name": "alpine1",
                    "IPv4Address": "[IP1]/16"
                },
                "[ID2]": {
                    "Name": "alpine2",
                    "IPv4Address": "[IP2]/16"
                }
            },
            "Labels": {}
        "#);
        // Never seen: by what the entries hold.
        assert_eq!(redact(&run1), redact(&run2));
        // Entries keyed by names are the engine's order, left alone.
        let named = "    \"Networks\": {\n        \"zeta\": {\n        },\n        \"alpha\": {\n        }\n    }\n";
        assert_eq!(redact(named), named);
    }

    proptest::proptest! {
        // Text without controls skips the terminal model: it must read as the model reads it.
        #[test]
        fn plain_text_normalizes_as_on_screen(raw in "[a-z \t\n\u{e9}\u{a0}\u{2003}|*%#]{0,40}") {
            proptest::prop_assert_eq!(normalize(&raw), on_screen(&raw));
        }
    }

    #[test]
    fn normalize_strips_escapes_and_crlf() {
        // Colors, window titles and busybox's cursor query are terminal chatter, not output.
        let raw = "\x1b]0;root@3f4e5a6b7c8d: /\x07\x1b[1;32mok\x1b[0m\r\n\x1b[6nplain\x1b(B  \r\n";
        assert_eq!(normalize(raw), "ok\nplain\n");
    }

    #[test]
    fn normalize_keeps_the_final_state_of_a_progress_bar() {
        // busybox wget redraws its progress line with carriage returns.
        let raw = "Connecting to web (172.18.0.2:80)\r\n\
                   \rindex.html            0% |                | 0  --:--:-- ETA\
                   \rindex.html          100% |****************|   615  0:00:00 ETA\n";
        assert_eq!(
            normalize(raw),
            "Connecting to web (172.18.0.2:80)\nindex.html          100% |****************|   615  0:00:00 ETA\n"
        );
    }

    #[test]
    fn normalize_overwrites_only_what_is_redrawn() {
        // A shorter redraw leaves the tail of the longer line, as on a real terminal, unless erased.
        assert_eq!(normalize("abcdef\rXY"), "XYcdef");
        assert_eq!(normalize("abcdef\rXY\x1b[K"), "XY");
        assert_eq!(normalize("abc\x08\x08Z"), "aZc");
    }

    #[test]
    fn normalize_follows_cursor_up_redraws() {
        // `docker pull` on a terminal moves up to update each layer's line in place.
        let raw = "a: Waiting\r\nb: Waiting\r\n\x1b[2A\r\x1b[2Ka: Pull complete\r\x1b[2B\x1b[1A\r\x1b[2Kb: Pull complete\r\x1b[1BDone\r\n";
        assert_eq!(normalize(raw), "a: Pull complete\nb: Pull complete\nDone\n");
    }

    #[test]
    fn normalize_drops_control_chars_but_tabs() {
        // Bells and NULs are invisible; tabs are layout.
        assert_eq!(normalize("a\x07\tb\x00 \t\n"), "a\tb\n");
    }

    #[test]
    fn normalize_reads_sequences_as_a_terminal_does() {
        // Hyperlinks (OSC 8 ended by ST), a title cut short by the next sequence, hidden-cursor modes and
        // cursor queries leave only the text; non-ASCII text passes through intact.
        let raw = "\x1b[?25l\x1b]8;;https://docs.docker.com\x1b\\docs\x1b]8;;\x1b\\ → ✔ café 中文\x1b[6n\r\n\
                   \x1b]0;title\x1b[1mbold\x1b[0m\x1b[?25h\r\n";
        assert_eq!(normalize(raw), "docs → ✔ café 中文\nbold\n");
    }

    #[test]
    fn normalize_moves_the_cursor_only_for_cursor_moves() {
        // `CSI SP A` and `CSI SP D` are other functions with the same final byte (scroll right, font
        // selection); `CSI ? 2 K` (DECSEL) erases the whole line like `CSI 2 K`.
        assert_eq!(normalize("ab\x1b[ A\x1b[1 Dc"), "abc");
        assert_eq!(normalize("abcdef\x1b[3D\x1b[?2KX"), "   X");
    }

    // Python's http.server logs `[26/Nov/2026 10:25:53]`: the whole date must go, not only its time.
    #[test]
    fn python_http_server_dates_are_redacted() {
        let mut r = Redactor::new();
        assert_eq!(
            r.redact("127.0.0.1 - - [26/Nov/2026 10:25:53] \"GET / HTTP/1.1\" 200 -\n"),
            "127.0.0.1 - - [[DATE]] \"GET / HTTP/1.1\" 200 -\n"
        );
    }
}
