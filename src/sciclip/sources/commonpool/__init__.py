"""DataComp's CommonPool as a source: its metadata parquets are the member list, each unit's images are downloaded
with img2dataset exactly as DataComp's ``download_upstream.py`` downloads them, and the samples keep the pool's
``uid`` and metadata columns (``members``, ``download``, ``outcomes``, ``source``)."""
