"""Guards the transcription in peers.GOLDEN: every entry must match the Django peer's
golden transcript (/work/shared/peers/golden/hs256) status, body and WWW-Authenticate.
Skipped only where that directory does not exist (a checkout without the shared peers)."""

import glob
import json
import os

import pytest

import peers

GOLDEN_DIR = os.path.join(peers.PEERS_SRC, "golden", "hs256")


def read_transcript(case):
    files = glob.glob(os.path.join(GOLDEN_DIR, "%02d_*.txt" % case))
    assert len(files) == 1, files
    text = open(files[0]).read()
    resp = text.split("# response\n", 1)[1]
    head, body = resp.split("\n\n", 1)
    lines = head.split("\n")
    status = int(lines[0].split(" ")[1])
    www = any(line.lower().startswith("www-authenticate:") for line in lines[1:])
    return status, json.loads(body), www


@pytest.mark.skipif(not os.path.isdir(GOLDEN_DIR), reason="no golden transcripts at %s"
                    % GOLDEN_DIR)
@pytest.mark.parametrize("case", sorted(peers.GOLDEN))
def test_golden_table_matches_transcript(case):
    assert read_transcript(case) == peers.GOLDEN[case]
