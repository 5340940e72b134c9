//! Record selection with OpenBSM `auditreduce`'s semantics (`bin/auditreduce/auditreduce.c`).
//!
//! auditreduce walks a record's tokens and lets each kind of token *check* the criteria it
//! carries: the header checks time, class and event; subject and process tokens check the
//! user and group ids and pids; the return token refines the class check by success or
//! failure; path, IPC and zone tokens check the `-o`/`-z` objects. A record is selected only
//! when every requested criterion was checked by some token and none failed, so a record
//! without the token a criterion needs is never selected. `-v` inverts the verdict.
//!
//! auditreduce looks only at header32, subject32, process32 and return32. [`Variants::All`]
//! (the default) applies each criterion to every variant of those tokens (64-bit, `_ex`);
//! [`Variants::Auditreduce`] reproduces auditreduce's blind spots exactly.
//!
//! Cheap criteria come first: the header is the first token, and [`Selection::matches`]
//! stops at the first token that fails, so a record rejected on event, time or class costs
//! one header decode. The Arrow pipeline and [`crate::reduce`] call it on framed spans.
//!
//! [`Rows`] are criteria of another kind: on the records view's columns (`time`, the
//! first subject's ids and pid), so that a dataframe filter on those columns can be
//! pushed into the reader and keep exactly the records whose rows it would keep.

use crate::tokens::{ids, Addr, DecodeOptions, Header, Subject, Token, TokenIter};
use regex::bytes::{Regex, RegexBuilder};

// The option bits of auditreduce.h; `d` is `a | b`.
const OPT_A_: u32 = 0x1; // -a
const OPT_B: u32 = 0x2;
const OPT_C: u32 = 0x4;
const OPT_E: u32 = 0x10;
const OPT_F: u32 = 0x20;
const OPT_G: u32 = 0x40;
const OPT_J: u32 = 0x80;
const OPT_M: u32 = 0x100;
const OPT_OF: u32 = 0x200;
const OPT_OM: u32 = 0x400;
const OPT_OP: u32 = 0x800;
const OPT_OSE: u32 = 0x1000;
const OPT_OSH: u32 = 0x2000;
const OPT_R: u32 = 0x8000;
const OPT_U: u32 = 0x10000;
const OPT_ALL: u32 = 0x20000; // -A
const OPT_V: u32 = 0x40000;
const OPT_Z: u32 = 0x80000;
// bsmtrail's own: the records view's `time` column, and its first subject's columns.
const OPT_ROW_TIME: u32 = 0x100000;
const OPT_ROW_SUBJECT: u32 = 0x200000;
const OPT_ROW_RETURN: u32 = 0x400000;
const OPT_ROW_PATH: u32 = 0x800000;

const HEADER_CHECKS: u32 = OPT_ALL | OPT_A_ | OPT_B | OPT_C | OPT_M | OPT_V;
const SUBJECT_CHECKS: u32 = OPT_U | OPT_E | OPT_F | OPT_G | OPT_R | OPT_J;
const PROCESS_CHECKS: u32 = OPT_U | OPT_E | OPT_F | OPT_G | OPT_R | OPT_OP;

/// IPC object types of the IPC token (`AT_IPC_*`).
const IPC_MSG: u8 = 1;
const IPC_SEM: u8 = 2;
const IPC_SHM: u8 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Variants {
    /// Every header, subject, process and return variant is checked like its 32-bit form.
    #[default]
    All,
    /// Only header32, subject32, process32 and return32, exactly as auditreduce.
    Auditreduce,
}

/// One `-o file=` pattern: an extended regular expression, `~` negates.
#[derive(Clone, Debug)]
pub struct FilePattern {
    pub regex: Regex,
    pub negate: bool,
}

/// Errors building a selection; `option` names the auditreduce option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectionError {
    pub option: &'static str,
    pub message: String,
}

impl std::fmt::Display for SelectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.option, self.message)
    }
}

impl std::error::Error for SelectionError {}

/// Split an `-o file=` value as auditreduce does: on `,` except `\,` (the backslash is
/// dropped), with a leading `~` negating each pattern.
pub fn file_patterns(spec: &str) -> Result<Vec<FilePattern>, SelectionError> {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                chars.next();
                cur.push(',');
            }
            ',' => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(|p| {
            let (negate, pat) = match p.strip_prefix('~') {
                Some(rest) => (true, rest.to_string()),
                None => (false, p),
            };
            let regex = RegexBuilder::new(&pat)
                .unicode(false)
                .build()
                .map_err(|e| SelectionError {
                    option: "-o file",
                    message: format!("bad regular expression {pat:?}: {e}"),
                })?;
            Ok(FilePattern { regex, negate })
        })
        .collect()
}

/// `fnmatch(pattern, s, FNM_PATHNAME)`: `*`, `?` and `[...]` never match `/`.
pub fn fnmatch_pathname(pattern: &[u8], s: &[u8]) -> bool {
    // Iterative matcher with one backtrack point per `*`, confined to a path segment.
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        let c = s[i];
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, i));
                p += 1;
                continue;
            }
            Some(b'?') if c != b'/' => {
                p += 1;
                i += 1;
                continue;
            }
            Some(b'[') if c != b'/' => {
                if let Some((matched, next)) = bracket(pattern, p, c) {
                    if matched {
                        p = next;
                        i += 1;
                        continue;
                    }
                } else if c == b'[' {
                    p += 1;
                    i += 1;
                    continue;
                }
            }
            Some(b'\\') if pattern.get(p + 1) == Some(&c) => {
                p += 2;
                i += 1;
                continue;
            }
            Some(&pc) if pc == c && pc != b'*' && pc != b'?' && pc != b'[' && pc != b'\\' => {
                p += 1;
                i += 1;
                continue;
            }
            _ => {}
        }
        // Backtrack: let the last `*` take one more byte, unless that byte is a `/`.
        match star {
            Some((sp, si)) if s[si] != b'/' => {
                star = Some((sp, si + 1));
                p = sp + 1;
                i = si + 1;
            }
            _ => return false,
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Match `c` against the bracket expression at `pattern[p] == b'['`; `None` when the
/// bracket is not closed (then `[` is literal).
fn bracket(pattern: &[u8], p: usize, c: u8) -> Option<(bool, usize)> {
    let mut j = p + 1;
    let negate = matches!(pattern.get(j), Some(b'!') | Some(b'^'));
    if negate {
        j += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let b = *pattern.get(j)?;
        if b == b']' && !first {
            return Some((matched != negate, j + 1));
        }
        first = false;
        if pattern.get(j + 1) == Some(&b'-') && pattern.get(j + 2).is_some_and(|&e| e != b']') {
            let e = pattern[j + 2];
            if b <= c && c <= e {
                matched = true;
            }
            j += 3;
        } else {
            if b == c {
                matched = true;
            }
            j += 1;
        }
    }
}

/// Criteria on the records view's columns, each a set of values the column must hold
/// (None: any). `time_ms`: an inclusive range of the `time` column (ms since the epoch,
/// as [`crate::arrow::records::time_ms`] reads the header: a record whose time is out of
/// range has a null `time` and is rejected). The ids and `pid` are the **first** subject
/// token's (any variant), as the columns hold them: auditreduce's `-u`/`-e`/... instead
/// require every subject and process token to match. A record without a subject has
/// null ids and is rejected by any of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rows {
    pub time_ms: Option<(i64, i64)>,
    pub auid: Option<Vec<u32>>,
    pub euid: Option<Vec<u32>>,
    pub egid: Option<Vec<u32>>,
    pub ruid: Option<Vec<u32>>,
    pub rgid: Option<Vec<u32>>,
    pub pid: Option<Vec<u32>>,
    /// The `success` column: the first return token's status is (not) 0.
    pub success: Option<bool>,
    /// The `paths` column holds one of these: some path token's bytes, less one
    /// trailing NUL (the column's text rule), equal one of them.
    pub paths: Option<Vec<Vec<u8>>>,
}

impl Rows {
    fn subject_wanted(&self) -> bool {
        [
            &self.auid, &self.euid, &self.egid, &self.ruid, &self.rgid, &self.pid,
        ]
        .iter()
        .any(|c| c.is_some())
    }

    fn time_ok(&self, h: &Header, id: u8) -> bool {
        self.time_ms.map_or(true, |(lo, hi)| {
            crate::arrow::time_ms(id, h.seconds, h.msec).is_some_and(|t| lo <= t && t <= hi)
        })
    }

    fn subject_ok(&self, s: &Subject) -> bool {
        let has =
            |want: &Option<Vec<u32>>, got: u32| want.as_ref().map_or(true, |w| w.contains(&got));
        // The unset auid is null in the column: no value selects it.
        let auid_ok = self
            .auid
            .as_ref()
            .map_or(true, |w| s.auid != u32::MAX && w.contains(&s.auid));
        auid_ok
            && has(&self.euid, s.euid)
            && has(&self.egid, s.egid)
            && has(&self.ruid, s.ruid)
            && has(&self.rgid, s.rgid)
            && has(&self.pid, s.pid)
    }
}

/// What to select. Build it, then call [`Selection::matches`] per record.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub variants: Variants,
    /// `-A`: overrides the time bounds.
    pub all: bool,
    /// `-a`: seconds since the epoch; records before are rejected.
    pub after: Option<i64>,
    /// `-b`: records after are rejected.
    pub before: Option<i64>,
    /// `-c`: (success mask, failure mask) and the class mask of each known event as
    /// `au_preselect` sees it (unknown events are never selected by class).
    pub class: Option<(u32, u32)>,
    pub event_classes: Vec<Option<u32>>,
    /// `-m`: event numbers.
    pub events: Option<Vec<u16>>,
    pub euid: Option<u32>,
    pub egid: Option<u32>,
    pub rgid: Option<u32>,
    pub ruid: Option<u32>,
    pub auid: Option<u32>,
    /// `-j`: the subject's pid.
    pub subject_pid: Option<u32>,
    /// `-o pid=`: the process token's pid.
    pub object_pid: Option<u32>,
    pub msgqid: Option<u32>,
    pub semid: Option<u32>,
    pub shmid: Option<u32>,
    pub files: Option<Vec<FilePattern>>,
    /// `-z`: an fnmatch pattern.
    pub zone: Option<Vec<u8>>,
    /// `-v`.
    pub invert: bool,
    /// Criteria on the records view's columns (checked on every variant of the header
    /// and subject tokens, whatever `variants` says).
    pub rows: Rows,
}

/// What a selection says of one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Selected,
    Rejected,
    /// A token the selection could not decode hides what a criterion depends on.
    Undecided,
}

/// The header event of the last header32 seen, across records: auditreduce keeps it in a
/// variable that outlives the record (it matters only for return tokens in records whose
/// header it does not check, i.e. in [`Variants::Auditreduce`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct SelectState {
    last_header_event: Option<u16>,
}

impl Selection {
    fn wanted(&self) -> u32 {
        let mut w = 0;
        let mut set = |cond: bool, bit: u32| {
            if cond {
                w |= bit;
            }
        };
        set(self.all, OPT_ALL);
        set(self.after.is_some(), OPT_A_);
        set(self.before.is_some(), OPT_B);
        set(self.class.is_some(), OPT_C);
        set(self.events.is_some(), OPT_M);
        set(self.euid.is_some(), OPT_E);
        set(self.egid.is_some(), OPT_F);
        set(self.rgid.is_some(), OPT_G);
        set(self.ruid.is_some(), OPT_R);
        set(self.auid.is_some(), OPT_U);
        set(self.subject_pid.is_some(), OPT_J);
        set(self.object_pid.is_some(), OPT_OP);
        set(self.msgqid.is_some(), OPT_OM);
        set(self.semid.is_some(), OPT_OSE);
        set(self.shmid.is_some(), OPT_OSH);
        set(self.files.is_some(), OPT_OF);
        set(self.zone.is_some(), OPT_Z);
        set(self.invert, OPT_V);
        set(self.rows.time_ms.is_some(), OPT_ROW_TIME);
        set(self.rows.subject_wanted(), OPT_ROW_SUBJECT);
        set(self.rows.success.is_some(), OPT_ROW_RETURN);
        set(self.rows.paths.is_some(), OPT_ROW_PATH);
        w
    }

    /// True when nothing is asked: every record (and file token) is selected.
    pub fn is_empty(&self) -> bool {
        self.wanted() == 0
    }

    fn preselect(&self, event: u16, sorf_success: bool, sorf_failure: bool) -> bool {
        let Some((s, f)) = self.class else {
            return true;
        };
        match self
            .event_classes
            .get(usize::from(event))
            .copied()
            .flatten()
        {
            Some(c) => {
                let mut hit = 0;
                if sorf_success {
                    hit |= s & c;
                }
                if sorf_failure {
                    hit |= f & c;
                }
                hit != 0
            }
            None => false,
        }
    }

    fn header_ok(&self, h: &Header, id: u8) -> bool {
        if !self.all {
            // Seconds as auditreduce compares them (header32 unsigned, 64-bit signed).
            let secs = crate::tokens::header_seconds(id, h.seconds);
            if self.after.is_some_and(|a| secs < a) || self.before.is_some_and(|b| secs > b) {
                return false;
            }
        }
        if !self.preselect(h.event, true, true) {
            return false;
        }
        if let Some(ev) = &self.events {
            if !ev.contains(&h.event) {
                return false;
            }
        }
        true
    }

    fn ids_ok(&self, s: &Subject) -> bool {
        let eq = |want: Option<u32>, got: u32| want.map_or(true, |w| w == got);
        eq(self.auid, s.auid)
            && eq(self.euid, s.euid)
            && eq(self.egid, s.egid)
            && eq(self.rgid, s.rgid)
            && eq(self.ruid, s.ruid)
    }

    fn path_ok(&self, path: &[u8]) -> bool {
        let Some(pats) = &self.files else {
            return true;
        };
        // regexec sees a C string: the path up to its first NUL.
        let path = path.split(|&b| b == 0).next().unwrap_or(&[]);
        for p in pats {
            if p.regex.is_match(path) {
                return !p.negate;
            }
        }
        false
    }

    fn ipc_ok(&self, kind: u8, id: u32, chkd: &mut u32) -> bool {
        let (bit, want) = match kind {
            IPC_MSG => (OPT_OM, self.msgqid),
            IPC_SEM => (OPT_OSE, self.semid),
            IPC_SHM => (OPT_OSH, self.shmid),
            _ => {
                return self.msgqid.is_none() && self.semid.is_none() && self.shmid.is_none();
            }
        };
        *chkd |= bit;
        want.map_or(true, |w| w == id)
    }

    /// Header-only check: `false` means the record cannot be selected whatever its other
    /// tokens hold, so nothing past its header need be looked at (the Arrow pipeline
    /// drops such records while framing, before they are handed to a worker). Always
    /// `true` under `-v`, and for a record whose first token is not a header it checks.
    pub fn prefilter(&self, rec: &[u8]) -> bool {
        if self.invert {
            return true;
        }
        let id = rec.first().copied().unwrap_or(0);
        if !ids::is_header(id) {
            return true;
        }
        // auditreduce checks header32 alone; the row criteria, every variant.
        let header_checked = self.variants == Variants::All || id == ids::HEADER32;
        match crate::tokens::decode(rec, 0, DecodeOptions::PRAUDIT) {
            Ok(crate::tokens::Tok {
                token: Token::Header(h),
                ..
            }) => self.rows.time_ok(&h, id) && (!header_checked || self.header_ok(&h, id)),
            _ => true,
        }
    }

    /// auditreduce's verdict for one record (or standalone file token).
    pub fn matches(&self, rec: &[u8], state: &mut SelectState) -> bool {
        self.verdict(rec, state) == Verdict::Selected
    }

    /// The verdict for one record (or standalone file token). Under [`Variants::All`]
    /// every token bsmtrail decodes is seen (Apple's identity, krb5 and cert-hash tokens
    /// included, so a return token after them still refines `-c`); a record whose walk
    /// meets a token it cannot decode while a criterion still depends on the tokens after
    /// it is [`Verdict::Undecided`], never guessed. Under [`Variants::Auditreduce`] the
    /// walk is auditreduce's own (praudit's decoder), and its verdict is final.
    pub fn verdict(&self, rec: &[u8], state: &mut SelectState) -> Verdict {
        let wanted = self.wanted();
        let all = self.variants == Variants::All;
        let opts = if all {
            DecodeOptions::FULL
        } else {
            DecodeOptions::PRAUDIT
        };
        // Criteria that a token past the header can still change.
        let token_criteria = wanted & !(OPT_ALL | OPT_A_ | OPT_B | OPT_M | OPT_V) != 0;
        let mut blind = false;
        let mut chkd = 0u32;
        let mut selected = true;
        let mut err = false;
        let mut header_event: Option<u16> = None;
        let (mut first_header, mut first_subject, mut first_return) = (true, true, true);
        let mut path_hit = false;
        for t in TokenIter::new(rec, opts) {
            let t = match t {
                Ok(t) => t,
                Err(_) => {
                    err = true;
                    blind = all && token_criteria;
                    break;
                }
            };
            if all && token_criteria && matches!(t.token, Token::Unknown(_)) {
                // The unknown token swallows the rest of the record: what it hides could
                // still reject (or, for -c, refine) the record.
                blind = true;
                break;
            }
            // The columns' own criteria look at the first header and subject of any
            // variant, as the records view fills its columns.
            match &t.token {
                Token::Header(h) if first_header => {
                    first_header = false;
                    chkd |= OPT_ROW_TIME;
                    selected = self.rows.time_ok(h, t.id);
                }
                Token::Subject(s) if first_subject => {
                    first_subject = false;
                    chkd |= OPT_ROW_SUBJECT;
                    selected = self.rows.subject_ok(s);
                }
                Token::Return { status, .. } if first_return => {
                    first_return = false;
                    chkd |= OPT_ROW_RETURN;
                    selected = self.rows.success.map_or(true, |ok| ok == (*status == 0));
                }
                Token::Path(p) if !path_hit => {
                    if let Some(want) = &self.rows.paths {
                        let text = p.strip_suffix(&[0]).unwrap_or(p);
                        path_hit = want.iter().any(|w| w.as_slice() == text);
                    }
                }
                _ => {}
            }
            if !selected {
                break;
            }
            selected = match t.token {
                Token::Header(h) if t.id == ids::HEADER32 || all => {
                    chkd |= HEADER_CHECKS;
                    header_event = Some(h.event);
                    if t.id == ids::HEADER32 {
                        state.last_header_event = Some(h.event);
                    }
                    self.header_ok(&h, t.id)
                }
                Token::Subject(s) if t.id == ids::SUBJECT32 || all => {
                    chkd |= SUBJECT_CHECKS;
                    self.ids_ok(&s) && self.subject_pid.map_or(true, |p| p == s.pid)
                }
                Token::Process(s) if t.id == ids::PROCESS32 || all => {
                    chkd |= PROCESS_CHECKS;
                    self.ids_ok(&s) && self.object_pid.map_or(true, |p| p == s.pid)
                }
                Token::Return { status, .. } if t.id == ids::RETURN32 || all => {
                    chkd |= OPT_C;
                    let event = if all {
                        header_event
                    } else {
                        state.last_header_event
                    };
                    match (self.class, event) {
                        (None, _) => true,
                        (Some(_), Some(ev)) => self.preselect(ev, status == 0, status != 0),
                        (Some(_), None) => false,
                    }
                }
                Token::Path(p) => {
                    chkd |= OPT_OF;
                    self.path_ok(p)
                }
                Token::Ipc { kind, id } => self.ipc_ok(kind, id, &mut chkd),
                Token::Zone(z) => {
                    chkd |= OPT_Z;
                    match &self.zone {
                        Some(pat) => {
                            let z = z.split(|&b| b == 0).next().unwrap_or(&[]);
                            fnmatch_pathname(pat, z)
                        }
                        None => true,
                    }
                }
                _ => true,
            };
            if !selected {
                break;
            }
        }
        if blind && selected {
            return Verdict::Undecided;
        }
        if path_hit {
            chkd |= OPT_ROW_PATH; // a record without the path is not selected
        }
        let print = selected && !err && (wanted & !chkd) == 0;
        if print != self.invert {
            Verdict::Selected
        } else {
            Verdict::Rejected
        }
    }
}

/// Selections that must all keep a record: a selection made from a selection
/// (`Trail.select(...).select(...)`). An empty list keeps everything.
#[derive(Clone, Debug, Default)]
pub struct AllOf {
    parts: Vec<Selection>,
}

/// What [`AllOf`] carries from one record to the next (see [`SelectState`]).
#[derive(Clone, Debug, Default)]
pub struct AllOfState {
    states: Vec<SelectState>,
}

impl AllOf {
    pub fn new(parts: Vec<Selection>) -> Self {
        AllOf { parts }
    }

    pub fn parts(&self) -> &[Selection] {
        &self.parts
    }

    /// Both lists, in order: `self` then `other`.
    pub fn and(&self, other: &AllOf) -> AllOf {
        AllOf {
            parts: self.parts.iter().chain(&other.parts).cloned().collect(),
        }
    }

    /// False when some part's header check rejects the record: its verdict is
    /// [`Verdict::Rejected`] whatever follows the header ([`Selection::prefilter`]).
    pub fn prefilter(&self, rec: &[u8]) -> bool {
        self.parts.iter().all(|p| p.prefilter(rec))
    }

    /// Whether a verdict depends on records before it: under [`Variants::Auditreduce`] a
    /// class criterion (`-c`) judges a return token whose record has no header32 by the
    /// last header32 event seen, so such a selection must see records in order, on one
    /// thread. Without `-c`, and under [`Variants::All`], every verdict depends on its
    /// record alone.
    pub fn sequential(&self) -> bool {
        self.parts
            .iter()
            .any(|p| p.variants == Variants::Auditreduce && p.class.is_some())
    }

    /// Rejected if any part rejects; else undecided if any part is; else selected.
    pub fn verdict(&self, rec: &[u8], state: &mut AllOfState) -> Verdict {
        state
            .states
            .resize(self.parts.len(), SelectState::default());
        // Every part sees every record, so each one's state is what it would be alone.
        let mut out = Verdict::Selected;
        for (p, s) in self.parts.iter().zip(state.states.iter_mut()) {
            match (p.verdict(rec, s), out) {
                (Verdict::Rejected, _) => out = Verdict::Rejected,
                (Verdict::Undecided, Verdict::Selected) => out = Verdict::Undecided,
                _ => {}
            }
        }
        out
    }
}

/// Subject/process ids are compared as auditreduce does: the option value converted to a
/// C `int`, i.e. its low 32 bits (`-u 4294967295` and `-u -1` both mean 0xffffffff).
pub fn id_from_option(v: i64) -> u32 {
    v as u32
}

// Kept for the socket criterion auditreduce parses but never checks (`-o sock=`).
#[allow(dead_code)]
fn _unused(_: Addr) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn header32(count: u32, event: u16, secs: u32) -> Vec<u8> {
        let mut h = vec![0x14];
        h.extend_from_slice(&count.to_be_bytes());
        h.push(11);
        h.extend_from_slice(&event.to_be_bytes());
        h.extend_from_slice(&[0, 0]);
        h.extend_from_slice(&secs.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 0]);
        h
    }

    fn record(event: u16, secs: u32, body: &[u8]) -> Vec<u8> {
        let count = (18 + body.len() + 7) as u32;
        let mut r = header32(count, event, secs);
        r.extend_from_slice(body);
        r.extend_from_slice(&[0x13, 0xb1, 0x05]);
        r.extend_from_slice(&count.to_be_bytes());
        r
    }

    /// A return32 token.
    fn ret(status: u8) -> Vec<u8> {
        vec![0x27, status, 0, 0, 0, 0]
    }

    fn subject(id: u8, auid: u32, euid: u32, pid: u32) -> Vec<u8> {
        let mut s = vec![id];
        for v in [auid, euid, 20, 501, 20, pid, 7] {
            s.extend_from_slice(&v.to_be_bytes());
        }
        match id {
            0x24 | 0x26 => s.extend_from_slice(&[0, 0, 0, 0, 1, 2, 3, 4]),
            0x75 | 0x77 => s.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
            0x7a | 0x7b => s.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]),
            _ => s.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]),
        }
        s
    }

    #[test]
    fn row_criteria_read_the_first_subject_and_header_as_the_columns_do() {
        let rows = |r: Rows| Selection {
            rows: r,
            ..Selection::default()
        };
        let m = |s: &Selection, r: &[u8]| s.matches(r, &mut SelectState::default());
        // First subject auid 501, a second (kill's target, say) auid 0: auditreduce's
        // -u 501 rejects it; the row's auid is 501.
        let mut body = subject(0x24, 501, 501, 42);
        body.extend(subject(0x24, 0, 0, 7));
        let r = record(23, 1000, &body);
        let u = |v: u32| Selection {
            auid: Some(v),
            ..Selection::default()
        };
        assert!(!m(&u(501), &r));
        let by_auid = |v: Vec<u32>| {
            rows(Rows {
                auid: Some(v),
                ..Rows::default()
            })
        };
        assert!(m(&by_auid(vec![501]), &r));
        assert!(m(&by_auid(vec![7, 501]), &r));
        assert!(
            !m(&by_auid(vec![0]), &r),
            "the second subject is not the row's"
        );
        let pid = rows(Rows {
            pid: Some(vec![42]),
            ..Rows::default()
        });
        assert!(m(&pid, &r));
        // No subject: null ids, rejected.
        assert!(!m(&by_auid(vec![501]), &record(23, 1000, &path(b"/x"))));
        // Any subject variant (64-bit, _ex) is a first subject.
        for id in [0x75, 0x7a, 0x7c] {
            assert!(m(
                &by_auid(vec![501]),
                &record(23, 1000, &subject(id, 501, 0, 1))
            ));
        }
        // time: ms since the epoch, msec included, bounds inclusive.
        let mut t = record(23, 1000, &[]);
        t[14..18].copy_from_slice(&250u32.to_be_bytes());
        let window = |lo, hi| {
            rows(Rows {
                time_ms: Some((lo, hi)),
                ..Rows::default()
            })
        };
        for (lo, hi, keep) in [
            (1_000_250, 1_000_250, true),
            (1_000_251, i64::MAX, false),
            (0, 1_000_249, false),
            (1_000_000, 1_000_999, true),
        ] {
            assert_eq!(m(&window(lo, hi), &t), keep, "{lo}..={hi}");
            assert_eq!(window(lo, hi).prefilter(&t), keep, "prefilter {lo}..={hi}");
        }
        // A hostile msec carries into the next seconds, in the column and here alike.
        t[14..18].copy_from_slice(&5_000u32.to_be_bytes());
        assert!(m(&window(1_005_000, 1_005_000), &t));
        assert!(!m(&window(1_000_000, 1_004_999), &t));
        // The unset auid is null in the column: no value selects it, not even its own.
        let unset = record(23, 1000, &subject(0x24, u32::MAX, 0, 1));
        assert!(!m(&by_auid(vec![u32::MAX]), &unset));
        assert!(m(&rows(Rows::default()), &unset));
    }

    #[test]
    fn paths_hold_one_of_the_texts() {
        let m = |s: &Selection, r: &[u8]| s.matches(r, &mut SelectState::default());
        let want = |ps: &[&[u8]]| Selection {
            rows: Rows {
                paths: Some(ps.iter().map(|p| p.to_vec()).collect()),
                ..Rows::default()
            },
            ..Selection::default()
        };
        let mut two = path(b"/etc/passwd");
        two.extend(path(b"/tmp/x"));
        let two = record(23, 1000, &two);
        assert!(
            m(&want(&[b"/tmp/x"]), &two),
            "any path token, not the first only"
        );
        assert!(m(&want(&[b"/nope", b"/etc/passwd"]), &two));
        assert!(!m(&want(&[b"/etc"]), &two), "equal, not a prefix");
        assert!(!m(&want(&[b"/tmp/x"]), &record(23, 1000, &[])));
        assert!(!m(&want(&[]), &two));
    }

    #[test]
    fn success_is_the_first_return_status() {
        let m = |s: &Selection, r: &[u8]| s.matches(r, &mut SelectState::default());
        let want = |ok: bool| Selection {
            rows: Rows {
                success: Some(ok),
                ..Rows::default()
            },
            ..Selection::default()
        };
        let ok = record(23, 1000, &ret(0));
        let failed = record(23, 1000, &ret(2));
        // The first return token decides (a second is another token of the row).
        let mut twice = ret(2);
        twice.extend(ret(0));
        let twice = record(23, 1000, &twice);
        let none = record(23, 1000, &path(b"/x"));
        for (r, success, failure) in [
            (&ok, true, false),
            (&failed, false, true),
            (&twice, false, true),
            (&none, false, false),
        ] {
            assert_eq!(m(&want(true), r), success);
            assert_eq!(m(&want(false), r), failure);
        }
    }

    fn path(p: &[u8]) -> Vec<u8> {
        let mut v = vec![0x23];
        v.extend_from_slice(&((p.len() + 1) as u16).to_be_bytes());
        v.extend_from_slice(p);
        v.push(0);
        v
    }

    fn sel() -> Selection {
        Selection::default()
    }

    fn m(s: &Selection, rec: &[u8]) -> bool {
        s.matches(rec, &mut SelectState::default())
    }

    #[test]
    fn no_criteria_selects_everything() {
        let r = record(1, 5, b"");
        assert!(m(&sel(), &r));
        assert!(sel().is_empty());
    }

    #[test]
    fn ids_need_a_subject_or_process_token() {
        let s = Selection {
            euid: Some(0),
            ..sel()
        };
        assert!(!m(&s, &record(1, 5, b"")), "no subject: never selected");
        assert!(m(&s, &record(1, 5, &subject(0x24, 1, 0, 9))));
        assert!(!m(&s, &record(1, 5, &subject(0x24, 1, 3, 9))));
        // A record with a subject and a process: both must pass.
        let mut body = subject(0x24, 1, 0, 9);
        body.extend(subject(0x26, 1, 5, 9));
        assert!(!m(&s, &record(1, 5, &body)));
    }

    #[test]
    fn every_subject_and_process_variant_unless_auditreduce() {
        for id in [0x24u8, 0x26, 0x75, 0x77, 0x7a, 0x7b, 0x7c, 0x7d] {
            let r = record(1, 5, &subject(id, 1000, 0, 9));
            let s = Selection {
                auid: Some(1000),
                ..sel()
            };
            assert!(m(&s, &r), "variant {id:#x}");
            let compat = Selection {
                variants: Variants::Auditreduce,
                ..s
            };
            assert_eq!(m(&compat, &r), id == 0x24 || id == 0x26, "variant {id:#x}");
        }
    }

    #[test]
    fn pids_j_for_subjects_o_pid_for_processes() {
        let j = Selection {
            subject_pid: Some(9),
            ..sel()
        };
        assert!(m(&j, &record(1, 5, &subject(0x24, 1, 0, 9))));
        assert!(!m(&j, &record(1, 5, &subject(0x26, 1, 0, 9))));
        let op = Selection {
            object_pid: Some(9),
            ..sel()
        };
        assert!(m(&op, &record(1, 5, &subject(0x26, 1, 0, 9))));
        assert!(!m(&op, &record(1, 5, &subject(0x24, 1, 0, 9))));
    }

    #[test]
    fn time_bounds_and_all() {
        let r = record(1, 100, b"");
        let after = |a| Selection {
            after: Some(a),
            ..sel()
        };
        assert!(m(&after(100), &r) && !m(&after(101), &r));
        let before = |b| Selection {
            before: Some(b),
            ..sel()
        };
        assert!(m(&before(100), &r) && !m(&before(99), &r));
        let a = Selection {
            after: Some(101),
            all: true,
            ..sel()
        };
        assert!(m(&a, &r));
        assert!(!after(101).prefilter(&r) && after(100).prefilter(&r));
    }

    #[test]
    fn class_checks_header_then_return_status() {
        let mut classes = vec![None; 1 << 16];
        classes[1] = Some(0x1000); // lo
        let s = |succ, fail| Selection {
            class: Some((succ, fail)),
            event_classes: classes.clone(),
            ..sel()
        };
        let ok = record(1, 5, &ret(0));
        let bad = record(1, 5, &ret(2));
        assert!(m(&s(0x1000, 0x1000), &ok) && m(&s(0x1000, 0x1000), &bad));
        assert!(m(&s(0x1000, 0), &ok) && !m(&s(0x1000, 0), &bad));
        assert!(!m(&s(0, 0x1000), &ok) && m(&s(0, 0x1000), &bad));
        // Without a return token only the header (both masks) is checked.
        assert!(m(&s(0, 0x1000), &record(1, 5, b"")));
        // Unknown events are never selected by class.
        assert!(!m(&s(u32::MAX, u32::MAX), &record(2, 5, &ret(0))));
    }

    #[test]
    fn events_and_invert() {
        let s = Selection {
            events: Some(vec![7, 9]),
            ..sel()
        };
        assert!(m(&s, &record(9, 5, b"")) && !m(&s, &record(8, 5, b"")));
        let v = Selection { invert: true, ..s };
        assert!(!m(&v, &record(9, 5, b"")) && m(&v, &record(8, 5, b"")));
        // A standalone file token has no header: not selected, so -v selects it.
        let file = [0x11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0];
        assert!(m(&v, &file));
        assert!(m(&sel(), &file));
    }

    #[test]
    fn file_patterns_first_match_wins_with_negation() {
        let s = Selection {
            files: Some(file_patterns("~/var/audit,/").unwrap()),
            ..sel()
        };
        assert!(!m(&s, &record(1, 5, &path(b"/var/audit/x"))));
        assert!(m(&s, &record(1, 5, &path(b"/etc/passwd"))));
        assert!(!m(&s, &record(1, 5, b"")), "no path token");
        // Every path must pass.
        let mut two = path(b"/etc/passwd");
        two.extend(path(b"/var/audit/y"));
        assert!(!m(&s, &record(1, 5, &two)));
        // `\,` is a literal comma; the rest is an ERE.
        let p = file_patterns(r"^/a\,b$,x{2}").unwrap();
        assert_eq!(p.len(), 2);
        assert!(p[0].regex.is_match(b"/a,b") && p[1].regex.is_match(b"axxb"));
        assert_eq!(file_patterns("(").unwrap_err().option, "-o file");
    }

    #[test]
    fn ipc_objects() {
        let ipc = |kind: u8, id: u32| {
            let mut v = vec![0x22, kind];
            v.extend_from_slice(&id.to_be_bytes());
            v
        };
        let s = Selection {
            msgqid: Some(5),
            ..sel()
        };
        assert!(m(&s, &record(1, 5, &ipc(1, 5))));
        assert!(!m(&s, &record(1, 5, &ipc(1, 6))));
        assert!(
            !m(&s, &record(1, 5, &ipc(2, 5))),
            "a semaphore does not check msgqid"
        );
        assert!(
            !m(&s, &record(1, 5, &ipc(9, 5))),
            "unknown type fails any IPC filter"
        );
    }

    #[test]
    fn zone_fnmatch_pathname() {
        assert!(fnmatch_pathname(b"global", b"global"));
        assert!(fnmatch_pathname(b"web*", b"web01"));
        assert!(!fnmatch_pathname(b"web*", b"web/01"));
        assert!(fnmatch_pathname(b"w?b[0-9]", b"web7"));
        assert!(!fnmatch_pathname(b"w?b[!0-9]", b"web7"));
        assert!(fnmatch_pathname(b"*", b""));
        assert!(!fnmatch_pathname(b"a", b"ab"));
        assert!(fnmatch_pathname(b"a*b*c", b"axxbyyc"));
        let mut z = vec![0x60, 0, 4];
        z.extend_from_slice(b"web\0");
        let s = Selection {
            zone: Some(b"w*".to_vec()),
            ..sel()
        };
        assert!(m(&s, &record(1, 5, &z)));
    }

    #[test]
    fn a_token_that_fails_to_decode_is_never_selected() {
        let s = Selection {
            events: Some(vec![1]),
            ..sel()
        };
        let r = record(1, 5, &[0x23, 0, 50, b'x']);
        assert!(!m(&s, &r));
        assert!(m(&Selection { invert: true, ..s }, &r));
    }
}
