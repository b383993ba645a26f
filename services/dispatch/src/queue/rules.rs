//! Where a page of the lists ends: the manual queue by dispatch deadline,
//! the transferred tickets by transfer count. Pure.

use chrono::DateTime;
use hotline_common::ids::{Id, TicketNo};
use hotline_common::paging::{Cursor, cursor_of};
use hotline_proto::dispatch::v1::Routing;

/// The filters a manual-queue token is bound to.
pub const QUEUE_LIST: &str = "manual_queue";
/// The filters a transferred-tickets token is bound to (with the
/// threshold).
pub const TRANSFERRED_LIST: &str = "transferred";

/// The queue is ordered by dispatch deadline, then ticket number.
pub fn queue_cursor(r: &Routing) -> Cursor {
    cursor_of(r.dispatch_deadline.as_ref(), &r.ticket_no)
}

/// The queue cursor's ticket number, as the token carried it.
pub fn queue_key(c: &Cursor) -> Result<TicketNo, String> {
    TicketNo::parse(&c.key)
}

/// Transferred tickets are ordered by transfers (most first), then ticket
/// number; the cursor's key carries both.
pub fn transfers_cursor(r: &Routing) -> Cursor {
    Cursor::new(
        DateTime::UNIX_EPOCH,
        format!("{}:{}", r.transfers, r.ticket_no),
    )
}

/// The transfers and ticket number of a transferred-tickets cursor.
pub fn transfers_key(c: &Cursor) -> Result<(i32, TicketNo), String> {
    let bad = || "not a token of this list".to_string();
    let (n, no) = c.key.split_once(':').ok_or_else(bad)?;
    let n: i32 = n.parse().map_err(|_| bad())?;
    if n < 0 {
        return Err(bad());
    }
    Ok((n, TicketNo::parse(no).map_err(|_| bad())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routing(transfers: i32, no: &str) -> Routing {
        Routing {
            ticket_no: no.into(),
            transfers,
            dispatch_deadline: Some(prost_types::Timestamp {
                seconds: 1_764_000_000,
                nanos: 5_000,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn cursors_carry_what_the_order_needs() {
        let r = routing(4, "BJ000000000012");
        let c = transfers_cursor(&r);
        assert_eq!(transfers_key(&c).unwrap().0, 4);
        assert_eq!(transfers_key(&c).unwrap().1.as_str(), "BJ000000000012");
        let q = queue_cursor(&r);
        assert_eq!(q.at.timestamp(), 1_764_000_000);
        assert_eq!(queue_key(&q).unwrap().as_str(), "BJ000000000012");
    }

    #[test]
    fn keys_a_caller_made_up_are_refused() {
        for key in ["", "3", "x:BJ1", "-1:BJ1", "3:BJ 1", "3:\u{0}"] {
            let c = Cursor::new(DateTime::UNIX_EPOCH, key);
            assert!(transfers_key(&c).is_err(), "{key:?}");
        }
        assert!(queue_key(&Cursor::new(DateTime::UNIX_EPOCH, "a\u{0}")).is_err());
    }
}
