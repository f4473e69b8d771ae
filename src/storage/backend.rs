//! The interface every storage backend implements: persistence only.
//! Deciding what an item's topics are and which story it joins happens in
//! `crate::store`, which calls these operations; a backend only stores and
//! reads. All calls come from one thread (the store thread), so methods take
//! `&mut self` and need no locking of their own.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::{
    Counts, FeedSpec, FeedState, FeedStatus, IngestStats, PollRecord, PruneBatch, PushState,
    StoreError, StoreStats, StoredItem, StoryDetail, TopicEntries,
};
use crate::parse::ParsedFeed;
use crate::topics::{ItemText, Matched, Topic};

/// What a job changed, as far as published documents go: the store thread
/// turns it into new document versions after each job.
#[derive(Default, Debug)]
pub struct Touched {
    /// Something every topic may show changed (a feed's title, say).
    pub all: bool,
    pub slugs: HashSet<String>,
}

/// A stored item with everything a topic query can look at.
#[derive(Debug, Clone)]
pub struct MatchRow {
    pub id: i64,
    pub title: String,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub author: Option<String>,
    pub categories: Option<String>,
    pub sort_time: i64,
    /// Urls of the feeds the item was seen in, one per line.
    pub urls: String,
    /// `topics::feed_labels` of those feeds, one per line.
    pub feed_labels: String,
    /// The language the feed that first brought it declares.
    pub language: Option<String>,
}

impl MatchRow {
    pub fn text(&self) -> ItemText<'_> {
        ItemText {
            title: &self.title,
            summary_html: self.summary.as_deref(),
            content_html: self.content.as_deref(),
            author: self.author.as_deref(),
            categories: self.categories.as_deref().unwrap_or(""),
            feeds: &self.feed_labels,
            language: self.language.as_deref(),
        }
    }
}

/// Topic evaluation as a backend sees it during an ingest: a new item is
/// filed with the matches the parser made when they are still current, and
/// a known item seen in one more feed is matched again as stored. The
/// implementation is `store::topics::Evaluator`.
pub trait TopicMatcher {
    /// No topics: nothing to match or file.
    fn is_empty(&self) -> bool;
    /// Whether matches made on a parser thread were made with the topics in
    /// force and with these feed labels (`topics::feed_labels`).
    fn current(&self, m: &Matched, labels: &str) -> bool;
    /// (index into the topics, why) of every topic taking a stored item.
    fn match_row(&self, row: &MatchRow) -> Vec<(usize, String)>;
    /// The slug of topic `i`.
    fn slug(&self, i: usize) -> Option<&str>;
}

/// What story grouping reads of an item waiting for a story.
#[derive(Debug, Clone)]
pub struct GroupingInput {
    pub uid: String,
    pub title: String,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub sort_time: i64,
    /// The feed row that first brought it.
    pub feed: i64,
}

/// A story member as the lead choice sees it.
#[derive(Debug, Clone)]
pub struct LeadCandidate {
    pub item: i64,
    pub cites: Option<String>,
    pub feed_title: String,
    pub sort_time: i64,
}

/// A grouped item's stored signature, for rebuilding the story index.
#[derive(Debug, Clone)]
pub struct Sketched {
    pub item: i64,
    pub sketch: Vec<u8>,
    pub sort_time: i64,
    pub story: i64,
    pub feed: i64,
}

/// A subscriber of the built-in WebSub hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSubscriber {
    /// The topic feed url subscribed to (`hub.topic`).
    pub topic: String,
    pub callback: String,
    /// For the `X-Hub-Signature` of each delivery; None: unsigned.
    pub secret: Option<String>,
    /// Unix seconds when the lease ends.
    pub expires: i64,
}

/// Content pushed to a `serve` process, kept for a polling one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxPush {
    /// Given by the database; 0 for one not yet kept.
    pub id: i64,
    pub feed_url: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// Unix seconds.
    pub received: i64,
}

/// Our subscription to the hub of a feed we poll (WebSub, subscriber
/// side): what the feed advertised and where the subscription stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscription {
    /// The feed as config.toml names it.
    pub feed_url: String,
    /// The hub and the topic (the feed's self url) it advertised.
    pub hub: String,
    pub topic: String,
    pub state: PushState,
    /// The last part of our callback url, unguessable: it names this
    /// subscription in the hub's requests.
    pub token: String,
    /// What the hub signs content with (`hub.secret`).
    pub secret: String,
    /// Unix seconds: when the lease the hub granted ends, and when we
    /// renew it.
    pub lease_until: Option<i64>,
    pub renew_at: Option<i64>,
    /// Unix seconds of our last request to the hub.
    pub requested: i64,
    /// Why it failed (the hub's reason or our error).
    pub error: Option<String>,
}

/// What `Backend::claim_due` is asked for.
pub struct Claim<'a> {
    pub owner: &'a str,
    pub max: usize,
    pub per_host: usize,
    pub now: i64,
    pub until: i64,
}

/// A storage backend. Writes made between `begin` and `commit` are one
/// transaction; the other writing methods are each a transaction of their
/// own and must not be called inside one.
pub trait Backend: Send {
    // Feeds and polls.

    /// Makes sure every configured feed has a row, and records its title.
    fn sync_feeds(&mut self, feeds: &[FeedSpec]) -> Result<(), StoreError>;
    /// What polling needs to know about a feed; defaults for a new one.
    fn feed_state(&mut self, url: &str) -> Result<FeedState, StoreError>;
    /// Every feed with its last poll, by url.
    fn feeds(&mut self) -> Result<Vec<FeedStatus>, StoreError>;
    /// Several successful polls with their items, each all or nothing: a
    /// feed whose write fails gets the error and the others are stored.
    fn ingest_batch(
        &mut self,
        work: Vec<(String, ParsedFeed, PollRecord)>,
        topics: &dyn TopicMatcher,
    ) -> Vec<Result<IngestStats, StoreError>>;
    /// A successful poll that brought nothing to parse (304, same bytes).
    fn record_unchanged(&mut self, feed_url: &str, rec: &PollRecord) -> Result<(), StoreError>;
    /// A failed poll; stored items are untouched. `next_poll` None means
    /// the feed is not polled again.
    fn record_failure(
        &mut self,
        feed_url: &str,
        status: &str,
        error: &str,
        now: DateTime<Utc>,
        next_poll: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;

    // Reading.

    /// Every item sorted at or after `since`, newest first.
    fn items_since(&mut self, since: DateTime<Utc>) -> Result<Vec<StoredItem>, StoreError>;
    /// A page of a topic, newest first: one entry per story when
    /// `by_story` (the grouped items only), else one per item.
    fn topic_entries(
        &mut self,
        slug: &str,
        limit: usize,
        by_story: bool,
        offset: usize,
    ) -> Result<TopicEntries, StoreError>;
    /// A story by its number or uid, with its members.
    fn story(&mut self, key: &str) -> Result<Option<StoryDetail>, StoreError>;
    /// Counts of what the database holds (the breakdowns only when `Full`;
    /// empty otherwise); also proves it answers.
    fn stats(&mut self, counts: Counts) -> Result<StoreStats, StoreError>;

    // Housekeeping.

    /// Removes up to `max` items first seen before `cutoff` (keeping what
    /// `topics` show and stories with a recent member whole), then gives up
    /// to `vacuum_pages` free pages back.
    fn prune_batch(
        &mut self,
        cutoff: DateTime<Utc>,
        max: usize,
        vacuum_pages: u32,
        topics: &[Topic],
    ) -> Result<PruneBatch, StoreError>;
    /// Whether another process committed since the last call.
    fn check_external_writes(&mut self) -> Result<bool, StoreError>;
    /// What the calls since the last one changed.
    fn take_touched(&mut self) -> Touched;
    /// Flushes and closes.
    fn close(self: Box<Self>);
    /// Called by the store thread before each job: a backend whose
    /// connection was lost (a database server restarted) opens a new one.
    /// Errors are the reconnection's; the job then fails on its own.
    fn reconnect_if_lost(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    // Sharing one database among processes. SQLite has one writing
    // process, which schedules its own feeds and groups every story; a
    // PostgreSQL database is shared, and hands feeds out by lease.

    /// Whether feeds are handed out by `claim_due` leases rather than
    /// scheduled by each process on its own.
    fn shares_feeds(&self) -> bool {
        false
    }
    /// Leases to `owner`, until `until`, up to `max` feeds (of those
    /// `lease_only` named) that are due at `now` and leased by no
    /// one, keeping at most `per_host` leases on one host across every
    /// process. Returns their urls, most overdue first.
    fn claim_due(&mut self, _claim: &Claim<'_>) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
    /// Makes `urls` the feeds `claim_due` hands out: a polling daemon's
    /// config.toml at start and reload. Feeds not listed keep their items
    /// and are leased again when they return.
    fn lease_only(&mut self, _urls: &[String]) -> Result<(), StoreError> {
        Ok(())
    }
    /// Moves the expiry of every lease `owner` holds to `until`.
    fn renew_leases(&mut self, _owner: &str, _until: i64) -> Result<(), StoreError> {
        Ok(())
    }
    /// Gives back `owner`'s lease on `url`, or on every feed when None.
    fn release_leases(&mut self, _owner: &str, _url: Option<&str>) -> Result<(), StoreError> {
        Ok(())
    }
    /// Whether this process is the one that groups stories and prunes:
    /// over a shared database one process at a time does, so no item is
    /// grouped twice. Always true for SQLite.
    fn holds_grouping(&mut self) -> Result<bool, StoreError> {
        Ok(true)
    }

    // The built-in WebSub hub's subscribers.

    /// Whether this process delivers the hub's pushes: over a shared
    /// database one serving process at a time does, so a subscriber gets
    /// each version once. Always true for SQLite.
    fn holds_hub(&mut self) -> Result<bool, StoreError> {
        Ok(true)
    }
    /// Adds or renews a subscription.
    fn hub_subscribe(&mut self, s: &HubSubscriber, now: i64) -> Result<(), StoreError>;
    /// Removes one; whether it existed.
    fn hub_unsubscribe(&mut self, topic: &str, callback: &str) -> Result<bool, StoreError>;
    /// The subscribers of `topic` whose lease runs past `now`.
    fn hub_subscribers(&mut self, topic: &str, now: i64) -> Result<Vec<HubSubscriber>, StoreError>;
    /// Removes every subscription whose lease ended by `now`; how many.
    fn hub_expire(&mut self, now: i64) -> Result<usize, StoreError>;
    /// How many subscribers other than `callback` `topic` has whose lease
    /// runs past `now` (the subscriber limit; a renewal is not refused).
    fn hub_count(&mut self, topic: &str, callback: &str, now: i64) -> Result<usize, StoreError>;

    // Our subscriptions to the hubs of feeds we poll.

    /// Every subscription, by feed url.
    fn push_subscriptions(&mut self) -> Result<Vec<PushSubscription>, StoreError>;
    /// Adds or replaces the subscription of `s.feed_url`.
    fn push_put(&mut self, s: &PushSubscription) -> Result<(), StoreError>;
    /// Forgets a feed's subscription.
    fn push_delete(&mut self, feed_url: &str) -> Result<(), StoreError>;
    /// The subscription whose callback carries `token`.
    fn push_by_token(&mut self, token: &str) -> Result<Option<PushSubscription>, StoreError>;
    /// Takes the next step of `s` for this process: sets its `requested`
    /// to `requested` only if the stored row is still `s` (same token,
    /// state, lease and last request). Of several processes that find the
    /// same renewal due, one gets `true` and makes the request.
    fn push_claim(&mut self, s: &PushSubscription, requested: i64) -> Result<bool, StoreError>;
    /// Keeps content a hub pushed to a process that does not refresh
    /// (`--role serve`) until a polling process takes it.
    fn inbox_put(&mut self, p: &InboxPush) -> Result<(), StoreError>;
    /// Up to `limit` kept pushes no process holds, oldest first, held for
    /// this one until `hold_until`: a process that dies holding one lets
    /// it go to another then.
    fn inbox_take(
        &mut self,
        now: i64,
        hold_until: i64,
        limit: usize,
    ) -> Result<Vec<InboxPush>, StoreError>;
    /// A kept push refreshed (or found unreadable): gone.
    fn inbox_done(&mut self, id: i64) -> Result<(), StoreError>;
    /// Moves a feed's next poll to `at` (unix seconds) when that is later
    /// (`later`) or earlier (`!later`) than the stored one: a subscription
    /// that became active puts it off to the safety net, one that ended
    /// brings it back (the lease loop of a shared database reads it).
    fn reschedule(&mut self, feed_url: &str, at: i64, later: bool) -> Result<(), StoreError>;

    // Transactions for the writers in `crate::store`.

    fn begin(&mut self) -> Result<(), StoreError>;
    fn commit(&mut self) -> Result<(), StoreError>;
    /// Undoes everything since `begin`; never fails (a failed rollback
    /// leaves the transaction to be undone when the connection closes).
    fn rollback(&mut self);

    // Topic membership, inside a transaction.

    /// slug → fingerprint of the topics stored.
    fn topic_fingerprints(&mut self) -> Result<HashMap<String, String>, StoreError>;
    /// Forgets a topic and its members.
    fn remove_topic(&mut self, slug: &str) -> Result<(), StoreError>;
    /// Empties a topic and records its new definition, changed at `now`.
    fn reset_topic(&mut self, slug: &str, fingerprint: &str, now: i64) -> Result<(), StoreError>;
    /// Up to `limit` stored items with an id above `after`, by id.
    fn items_to_match(&mut self, after: i64, limit: usize) -> Result<Vec<MatchRow>, StoreError>;
    /// Files an item in a topic with the reasons it matched.
    fn add_to_topic(
        &mut self,
        slug: &str,
        item: i64,
        sort_time: i64,
        why: &str,
    ) -> Result<(), StoreError>;

    // Stories, inside a transaction.

    /// Up to `limit` items stored without a story, oldest first.
    fn waiting_for_story(&mut self, limit: usize) -> Result<Vec<i64>, StoreError>;
    fn grouping_input(&mut self, item: i64) -> Result<GroupingInput, StoreError>;
    /// The number the next new story takes; the stories a run of batches
    /// makes count up from it, across its transactions. Numbers are given
    /// out before their rows are written, so that the index can place a
    /// batch's items while this thread writes the ones before (only the
    /// process that groups makes stories).
    fn next_story_id(&mut self) -> Result<i64, StoreError>;
    /// The stories made in this transaction took numbers below `next`
    /// (a database that numbers rows itself is told so).
    fn stories_numbered_below(&mut self, next: i64) -> Result<(), StoreError>;
    /// A new story numbered `id` (see `next_story_id`), led by `lead`.
    fn new_story(
        &mut self,
        id: i64,
        uid: &str,
        now: i64,
        sort_time: i64,
        lead: i64,
    ) -> Result<(), StoreError>;
    /// A member joined: the story is updated at `now` and sorts no later
    /// than `sort_time`.
    fn story_grew(&mut self, story: i64, now: i64, sort_time: i64) -> Result<(), StoreError>;
    /// Puts an item in a story with its signature and the agency it cites.
    fn file_in_story(
        &mut self,
        item: i64,
        story: i64,
        sketch: &[u8],
        cites: Option<&str>,
    ) -> Result<(), StoreError>;
    /// (the item's feed title, the story lead's sort time).
    fn lead_facts(&mut self, item: i64, story: i64) -> Result<(String, i64), StoreError>;
    /// Every member of a story, earliest first.
    fn lead_candidates(&mut self, story: i64) -> Result<Vec<LeadCandidate>, StoreError>;
    fn set_lead(&mut self, story: i64, lead: i64) -> Result<(), StoreError>;
    /// Records that `item` joined a story, so every topic showing the
    /// story is published again.
    fn note_grouped(&mut self, item: i64) -> Result<(), StoreError>;

    // Stories, reading.

    /// The newest sort time of a grouped item.
    fn newest_grouped(&mut self) -> Result<Option<i64>, StoreError>;
    /// The stored signatures of grouped items sorted from `from` to `to`,
    /// oldest first.
    fn sketches_between(
        &mut self,
        from: i64,
        to: i64,
        each: &mut dyn FnMut(Sketched),
    ) -> Result<(), StoreError>;
    /// A story's lead and its members' texts (uid, item, time, title, body),
    /// earliest first; None when there is no such story.
    fn story_texts(&mut self, story: i64) -> Result<Option<StoryTexts>, StoreError>;
}

/// What `feedsift story --why` reads of a story.
pub struct StoryTexts {
    pub lead: i64,
    pub members: Vec<(String, crate::cluster::MemberText)>,
}

/// Behaviour every backend must share, run by each backend's unit tests
/// on a database of its own.
#[cfg(test)]
pub(crate) mod shared_tests {
    use super::{Backend, InboxPush, PushSubscription};
    use crate::storage::PushState;

    /// Kept pushes are taken once, oldest first, held from other takers
    /// until the hold ends, and gone when done; a subscription's next step
    /// is claimed by one caller, and not at all once the row changed.
    pub fn inbox_and_claims(db: &mut dyn Backend) {
        for (i, body) in [b"first".to_vec(), b"second".to_vec()]
            .into_iter()
            .enumerate()
        {
            db.inbox_put(&InboxPush {
                id: 0,
                feed_url: "https://a.example/feed".into(),
                content_type: (i == 0).then(|| "application/atom+xml".into()),
                body,
                received: 100,
            })
            .unwrap();
        }
        let taken = db.inbox_take(200, 260, 8).unwrap();
        let bodies: Vec<&[u8]> = taken.iter().map(|p| p.body.as_slice()).collect();
        assert_eq!(bodies, [b"first".as_slice(), b"second".as_slice()]);
        assert_eq!(
            taken[0].content_type.as_deref(),
            Some("application/atom+xml")
        );
        // Held: nobody else takes them before 260.
        assert!(db.inbox_take(250, 310, 8).unwrap().is_empty());
        db.inbox_done(taken[0].id).unwrap();
        // The taker died holding the second: taken again after the hold.
        let again = db.inbox_take(261, 321, 8).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].body, b"second");
        db.inbox_done(again[0].id).unwrap();
        assert!(db.inbox_take(1000, 1060, 8).unwrap().is_empty());

        let row = PushSubscription {
            feed_url: "https://a.example/feed".into(),
            hub: "https://hub.example/".into(),
            topic: "https://a.example/feed".into(),
            state: PushState::Active,
            token: "t0k3n".into(),
            secret: "s".into(),
            lease_until: Some(5000),
            renew_at: Some(4000),
            requested: 10,
            error: None,
        };
        db.push_put(&row).unwrap();
        assert_eq!(db.push_by_token("t0k3n").unwrap(), Some(row.clone()));
        assert_eq!(db.push_by_token("other").unwrap(), None);
        // Two processes find the renewal due: one claims it.
        assert!(db.push_claim(&row, 4001).unwrap());
        assert!(!db.push_claim(&row, 4002).unwrap());
        // The hub verified meanwhile (new lease): a claim on the old row
        // fails.
        let verified = PushSubscription {
            requested: 4001,
            lease_until: Some(9000),
            ..row.clone()
        };
        db.push_put(&verified).unwrap();
        let stale = PushSubscription {
            requested: 4001,
            ..row
        };
        assert!(!db.push_claim(&stale, 4003).unwrap());
        assert!(db.push_claim(&verified, 4003).unwrap());
    }
}
