"""Common Crawl as a source, curated the MetaCLIP way.

The stages, each a module with one job and a ``sciclip cc`` command:

- ``paths``: the crawl's file index (``<kind>.paths.gz``) and the selection of files, named as members;
- ``fetch``: one crawl file, resumable, atomic, retried, polite, its gzip members checked as it streams;
- ``archive`` (with ``wat`` and ``html``): WAT/WARC/ARC records into (image URL, text) rows;
- ``matching`` and ``metadata``: MetaCLIP's substring matching (a word trie, walked a batch of texts at a
  time, over ``arrayhash``'s array hashing) against its metadata list;
- ``pool``: a unit's files parsed, filtered and matched, with per-entry counts;
- ``dedup`` and ``balance``: cross-file (url, text) dedup in bounded memory, and deterministic balancing;
- ``download``: the selected images fetched with img2dataset (the library);
- ``source``: the ``cc`` Source whose unit job turns downloads into the shared shards.
"""
