"""Live feeds: the creator's blog, Mastodon, Bluesky and YouTube become the clone's life lately.

`FeedService` adds and polls feeds and turns each new post into an event; `FeedNetwork` is the adapter a network
implements (`register_network`, or the `clonr.feeds` entry-point group)."""

from clonr.feeds.networks import NETWORKS_GROUP, FeedNetwork, Polled, Validators, network_for, register_network
from clonr.feeds.parse import FeedError, Post, feed_links, parse_feed
from clonr.feeds.service import POLL, FeedService, PollResult, event_text

__all__ = ["NETWORKS_GROUP", "POLL", "FeedError", "FeedNetwork", "FeedService", "PollResult", "Polled", "Post",
           "Validators", "event_text", "feed_links", "network_for", "parse_feed", "register_network"]
