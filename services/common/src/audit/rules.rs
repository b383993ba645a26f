//! The audit chain's pure rules: an entry's hash, chaining entries onto a
//! head, checking a chain read back, and the seal exported for anchoring.
//! No IO.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::Row;

use hotline_proto::common::v1 as pb;

use super::GENESIS;

/// An entry as stored: what the sealer seals and the verifier re-hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub actor_unit: String,
    pub action: String,
    pub ticket_no: String,
    pub detail: String,
}

impl Recorded {
    pub(super) fn from_row(r: &sqlx::postgres::PgRow) -> Recorded {
        Recorded {
            at: r.get("at"),
            actor: r.get("actor"),
            actor_unit: r.get("actor_unit"),
            action: r.get("action"),
            ticket_no: r.get("ticket_no"),
            detail: r.get("detail"),
        }
    }
}

/// The hash of the entry at chain position `seq`: the hash before it, its
/// position, its time and its fields, each field length-prefixed so that
/// no two entries hash the same.
pub fn entry_hash(prev: &[u8], seq: i64, e: &Recorded) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(e.at.timestamp_micros().to_be_bytes());
    for field in [
        e.actor.as_str(),
        e.actor_unit.as_str(),
        e.action.as_str(),
        e.ticket_no.as_str(),
        e.detail.as_str(),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().into()
}

/// The chain's head, or a copy of it kept elsewhere: how many entries are
/// sealed and the hash of the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    pub entries: i64,
    pub hash: Vec<u8>,
}

impl Seal {
    /// The seal of an empty chain.
    pub fn genesis() -> Seal {
        Seal {
            entries: 0,
            hash: GENESIS.to_vec(),
        }
    }

    /// A seal as exported (`entries`, lowercase hex `hash`): the field and
    /// the problem when it is not one.
    pub fn parse(entries: i64, hash: &str) -> Result<Seal, (&'static str, String)> {
        if entries < 0 {
            return Err(("entries", "must not be negative".into()));
        }
        let bytes = match hex::decode(hash) {
            Ok(b) if b.len() == 32 && hash.bytes().all(|c| !c.is_ascii_uppercase()) => b,
            _ => {
                return Err((
                    "hash",
                    "must be 64 lowercase hex digits, as GetAuditSeal exports it".into(),
                ));
            }
        };
        if entries == 0 && bytes != GENESIS {
            return Err(("hash", "an empty chain's seal is 64 zeros".into()));
        }
        Ok(Seal {
            entries,
            hash: bytes,
        })
    }

    /// `entries:hash`, the form `--verify-audit` takes.
    pub fn display(&self) -> String {
        format!("{}:{}", self.entries, hex::encode(&self.hash))
    }
}

/// One sealed chain position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub seq: i64,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// Seals `entries` after `head`, in the order given: their links and the
/// new head.
pub fn chain(head: &Seal, entries: &[Recorded]) -> (Vec<Link>, Seal) {
    let mut prev = head.hash.clone();
    let mut seq = head.entries;
    let links = entries
        .iter()
        .map(|e| {
            seq += 1;
            let hash = entry_hash(&prev, seq, e).to_vec();
            Link {
                seq,
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            }
        })
        .collect();
    (
        links,
        Seal {
            entries: seq,
            hash: prev,
        },
    )
}

/// Checks a chain fed to it entry by entry in `seq` order: contiguous from
/// 1, each linked to the one before, each matching its own hash, and, when
/// given an exported seal, still holding that seal's last entry.
#[derive(Debug, Clone)]
pub struct Check {
    expected: Option<Seal>,
    next: i64,
    prev: Vec<u8>,
    broken: Option<(i64, String)>,
}

impl Check {
    pub fn new(expected: Option<Seal>) -> Check {
        Check {
            expected,
            next: 1,
            prev: GENESIS.to_vec(),
            broken: None,
        }
    }

    /// The position expected next.
    pub fn next_seq(&self) -> i64 {
        self.next
    }

    /// Checks the next stored entry; false once the chain is found broken.
    pub fn feed(&mut self, seq: i64, e: &Recorded, prev_hash: &[u8], hash: &[u8]) -> bool {
        if self.broken.is_some() {
            return false;
        }
        let at = self.next;
        let why = if seq != at {
            Some(format!("entry {at} is missing"))
        } else if prev_hash != self.prev.as_slice() {
            Some("it does not link to the entry before".into())
        } else if entry_hash(&self.prev, seq, e).as_slice() != hash {
            Some("its content does not match its hash".into())
        } else {
            match &self.expected {
                Some(x) if x.entries == seq && x.hash != hash => Some(format!(
                    "it does not match the exported seal {}: the chain was rewritten at or before it",
                    x.display()
                )),
                _ => None,
            }
        };
        if let Some(why) = why {
            self.broken = Some((at, why));
            return false;
        }
        self.prev = hash.to_vec();
        self.next += 1;
        true
    }

    /// The outcome once every entry was fed, checked against the head.
    pub fn finish(self, head: &Seal) -> (u64, Option<(i64, String)>) {
        let rows = (self.next - 1) as u64;
        if self.broken.is_some() {
            return (rows, self.broken);
        }
        let n = self.next - 1;
        let broken = match &self.expected {
            Some(x) if x.entries > n => Some((
                n + 1,
                format!(
                    "the exported seal {} covers {} entries but the chain ends at {n}: its tail was cut",
                    x.display(),
                    x.entries
                ),
            )),
            _ if head.entries > n => Some((
                n + 1,
                format!(
                    "the head seals {} entries but the chain ends at {n}: its tail was cut",
                    head.entries
                ),
            )),
            _ if head.entries < n => Some((
                head.entries + 1,
                format!(
                    "the chain runs to {n} but the head seals {} entries",
                    head.entries
                ),
            )),
            _ if head.hash != self.prev => Some((
                n,
                "the last entry does not match the head's hash".to_string(),
            )),
            _ => None,
        };
        (rows, broken)
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Sealed entries found intact (before the first broken one).
    pub rows: u64,
    /// The first broken entry and why.
    pub broken: Option<(i64, String)>,
    /// Entries recorded but not sealed yet.
    pub unsealed: i64,
    /// The head the chain was checked against.
    pub head: Head,
}

/// The head as stored, with when it last moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seal: Seal,
    pub sealed_at: DateTime<Utc>,
}

impl Head {
    pub(super) fn to_proto(&self) -> pb::AuditSeal {
        pb::AuditSeal {
            entries: self.seal.entries,
            hash: hex::encode(&self.seal.hash),
            sealed_at: Some(crate::time::to_proto(self.sealed_at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(detail: &str) -> Recorded {
        Recorded {
            at: DateTime::from_timestamp(1_764_000_000, 0).unwrap(),
            actor: "op".into(),
            actor_unit: String::new(),
            action: "ticket.accepted".into(),
            ticket_no: "BJ1".into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn hashes_cover_every_field_and_the_link() {
        let a = entry_hash(&GENESIS, 1, &e("x"));
        assert_ne!(a, entry_hash(&GENESIS, 1, &e("y")));
        assert_ne!(a, entry_hash(&[1; 32], 1, &e("x")));
        assert_ne!(a, entry_hash(&GENESIS, 2, &e("x")));
        let mut later = e("x");
        later.at += chrono::Duration::microseconds(1);
        assert_ne!(a, entry_hash(&GENESIS, 1, &later));
        // Field boundaries matter: ("opB", "BJ1") is not ("op", "BBJ1").
        let mut shifted = e("");
        shifted.actor = "opB".into();
        let mut orig = e("");
        orig.ticket_no = "BBJ1".into();
        assert_ne!(
            entry_hash(&GENESIS, 1, &shifted),
            entry_hash(&GENESIS, 1, &orig)
        );
    }

    #[test]
    fn the_hash_is_the_one_rows_written_before_sealing_carry() {
        // Rows written when entries were hashed as they were appended stay
        // valid: same fields, same order, same encoding.
        let mut h = Sha256::new();
        h.update(GENESIS);
        h.update(1i64.to_be_bytes());
        h.update(1_764_000_000_000_000i64.to_be_bytes());
        for f in ["op", "", "ticket.accepted", "BJ1", "x"] {
            h.update((f.len() as u64).to_be_bytes());
            h.update(f.as_bytes());
        }
        let old: [u8; 32] = h.finalize().into();
        assert_eq!(entry_hash(&GENESIS, 1, &e("x")), old);
    }

    /// A sealed chain of `n` entries, as stored rows.
    fn sealed(n: usize) -> (Vec<(Link, Recorded)>, Seal) {
        let entries: Vec<Recorded> = (0..n).map(|i| e(&format!("entry {i}"))).collect();
        let (links, head) = chain(&Seal::genesis(), &entries);
        (links.into_iter().zip(entries).collect(), head)
    }

    fn check(rows: &[(Link, Recorded)], head: &Seal, expected: Option<Seal>) -> Option<i64> {
        let mut c = Check::new(expected);
        for (l, r) in rows {
            if !c.feed(l.seq, r, &l.prev_hash, &l.hash) {
                break;
            }
        }
        c.finish(head).1.map(|(seq, _)| seq)
    }

    #[test]
    fn chains_continue_from_their_head() {
        let all: Vec<Recorded> = (0..5).map(|i| e(&i.to_string())).collect();
        let (whole, end) = chain(&Seal::genesis(), &all);
        let (first, mid) = chain(&Seal::genesis(), &all[..2]);
        let (rest, end2) = chain(&mid, &all[2..]);
        assert_eq!(end, end2);
        assert_eq!(whole, [first, rest].concat());
        assert_eq!(end.entries, 5);
        assert_eq!(whole[0].prev_hash, GENESIS);
        assert_eq!(whole[4].hash, end.hash);
        // Nothing to seal: the head stays.
        assert_eq!(chain(&end, &[]), (vec![], end.clone()));
    }

    #[test]
    fn an_intact_chain_checks_and_every_tampering_names_its_entry() {
        let (rows, head) = sealed(6);
        assert_eq!(check(&rows, &head, None), None);
        assert_eq!(check(&rows, &head, Some(head.clone())), None);
        assert_eq!(check(&[], &Seal::genesis(), None), None);

        // An edited entry.
        let mut edited = rows.clone();
        edited[2].1.detail = "changed".into();
        assert_eq!(check(&edited, &head, None), Some(3));
        // An edited time.
        let mut retimed = rows.clone();
        retimed[4].1.at += chrono::Duration::seconds(1);
        assert_eq!(check(&retimed, &head, None), Some(5));
        // A deleted entry in the middle.
        let mut deleted = rows.clone();
        deleted.remove(3);
        assert_eq!(check(&deleted, &head, None), Some(4));
        // Two entries swapped: contents, or positions renumbered.
        let mut swapped = rows.clone();
        let (a, b) = (swapped[1].1.clone(), swapped[2].1.clone());
        swapped[1].1 = b;
        swapped[2].1 = a;
        assert_eq!(check(&swapped, &head, None), Some(2));
        let mut renumbered = rows.clone();
        renumbered.swap(1, 2);
        renumbered[1].0.seq = 2;
        renumbered[2].0.seq = 3;
        assert_eq!(check(&renumbered, &head, None), Some(2));
        // An entry re-hashed after an edit no longer links to the next.
        let mut rehashed = rows.clone();
        rehashed[2].1.detail = "changed".into();
        rehashed[2].0.hash = entry_hash(&rehashed[2].0.prev_hash, 3, &rehashed[2].1).to_vec();
        assert_eq!(check(&rehashed, &head, None), Some(4));
    }

    #[test]
    fn the_head_and_an_exported_seal_catch_cut_and_rewritten_tails() {
        let (rows, head) = sealed(6);
        let anchor = Seal {
            entries: 4,
            hash: rows[3].0.hash.clone(),
        };
        // The last two cut, the head left: caught by the head.
        assert_eq!(check(&rows[..4], &head, None), Some(5));
        // The head moved back too: only the anchor of 6 catches it.
        let cut_head = Seal {
            entries: 4,
            hash: rows[3].0.hash.clone(),
        };
        assert_eq!(check(&rows[..4], &cut_head, None), None);
        assert_eq!(check(&rows[..4], &cut_head, Some(head.clone())), Some(5));
        assert_eq!(check(&rows[..4], &cut_head, Some(anchor.clone())), None);
        // Entries past the head.
        assert_eq!(check(&rows, &cut_head, None), Some(5));
        // A head whose hash is not the last entry's.
        let wrong = Seal {
            entries: 6,
            hash: vec![7; 32],
        };
        assert_eq!(check(&rows, &wrong, None), Some(6));

        // The whole chain rewritten from entry 3 on, head and all: every
        // link checks, only the anchor does not.
        let mut all: Vec<Recorded> = rows.iter().map(|(_, r)| r.clone()).collect();
        all[3].detail = "rewritten".into();
        let (kept, mid) = chain(&Seal::genesis(), &all[..2]);
        let (redone, new_head) = chain(&mid, &all[2..]);
        let rewritten: Vec<(Link, Recorded)> =
            [kept, redone].concat().into_iter().zip(all).collect();
        assert_eq!(check(&rewritten, &new_head, None), None);
        assert_eq!(check(&rewritten, &new_head, Some(anchor)), Some(4));
        assert_eq!(check(&rewritten, &new_head, Some(head)), Some(6));
        // An anchor from before the rewritten part still holds.
        let early = Seal {
            entries: 2,
            hash: rows[1].0.hash.clone(),
        };
        assert_eq!(check(&rewritten, &new_head, Some(early)), None);
    }

    #[test]
    fn exported_seals_parse_back() {
        let (_, head) = sealed(3);
        let text = head.display();
        let (n, h) = text.split_once(':').unwrap();
        assert_eq!(Seal::parse(n.parse().unwrap(), h), Ok(head));
        assert_eq!(Seal::parse(0, &"0".repeat(64)), Ok(Seal::genesis()));
        assert_eq!(Seal::parse(-1, &"0".repeat(64)).unwrap_err().0, "entries");
        assert_eq!(Seal::parse(3, "abc").unwrap_err().0, "hash");
        assert_eq!(Seal::parse(3, &"A".repeat(64)).unwrap_err().0, "hash");
        assert_eq!(Seal::parse(0, &"1".repeat(64)).unwrap_err().0, "hash");
    }
}
