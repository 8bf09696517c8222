"""TrackEval, wrapped, reproduces the official MOTChallenge numbers for the CEM tracker on the
MOT15 TUD sequences (table in ../shared/data/README.md)."""

import numpy as np
import pytest

from storelens.datasets.formats.mot import MotTable, read_mot, write_mot
from storelens.evaluation.tracking_metrics import COMBINED, evaluate_mot

SEQS = ["TUD-Campus", "TUD-Stadtmitte"]
# seq: IDF1, IDP, IDR, Rcll, Prcn, MT, PT, ML, FP, FN, IDs, FM, MOTA, HOTA, DetA, AssA
OFFICIAL = {
    "TUD-Campus": (
        55.8,
        73.0,
        45.1,
        58.2,
        94.1,
        1,
        6,
        1,
        13,
        150,
        7,
        7,
        52.6,
        0.3913974,
        0.4180470,
        0.3691207,
    ),
    "TUD-Stadtmitte": (
        64.5,
        82.0,
        53.1,
        60.9,
        94.0,
        5,
        4,
        1,
        45,
        452,
        7,
        6,
        56.4,
        0.3978490,
        0.3922676,
        0.4088408,
    ),
}


@pytest.fixture(scope="module")
def cem(shared_data):
    base = shared_data / "mot15-tud"
    sequences = {s: base / s for s in SEQS}
    results = {s: base / s / "trackers" / "CEM" / f"{s}.txt" for s in SEQS}
    return evaluate_mot(sequences, results, benchmark="MOT15")


@pytest.mark.parametrize("seq", SEQS)
def test_per_sequence_matches_the_official_devkit(cem, seq):
    idf1, idp, idr, rcll, prcn, mt, pt, ml, fp, fn, ids, fm, mota, hota, deta, assa = OFFICIAL[seq]
    m = cem[seq]
    for ours, theirs in [
        (m.idf1, idf1),
        (m.idp, idp),
        (m.idr, idr),
        (m.recall, rcll),
        (m.precision, prcn),
        (m.mota, mota),
    ]:
        assert round(100 * ours, 1) == pytest.approx(theirs, abs=0.051)
    assert (m.mostly_tracked, m.partially_tracked, m.mostly_lost) == (mt, pt, ml)
    assert (m.false_positives, m.false_negatives, m.id_switches, m.fragmentations) == (
        fp,
        fn,
        ids,
        fm,
    )
    assert m.hota == pytest.approx(hota, abs=1e-6)
    assert m.deta == pytest.approx(deta, abs=1e-6) and m.assa == pytest.approx(assa, abs=1e-6)


def test_combined_matches_the_official_devkit(cem):
    m = cem[COMBINED]
    assert round(m.idf1, 4) == 0.6243 and round(m.idp, 4) == 0.7992 and round(m.idr, 4) == 0.5122
    assert round(m.mota, 4) == 0.5551
    assert (m.false_positives, m.false_negatives, m.id_switches) == (58, 602, 14)


def test_mot15_zero_marked_boxes_are_ignored(shared_data, tmp_path):
    """MOTChallenge preprocessing: a gt row with conf 0 is not counted as a miss."""
    seq = shared_data / "mot15-tud" / "TUD-Campus"
    gt = read_mot(seq / "gt" / "gt.txt")
    marked = MotTable(
        gt.frame,
        gt.track_id,
        gt.tlwh,
        np.where(gt.track_id == gt.track_id[0], 0.0, 1.0),
        gt.class_id,
        gt.visibility,
    )
    (tmp_path / "seq" / "gt").mkdir(parents=True)
    write_mot(tmp_path / "seq" / "gt" / "gt.txt", marked, kind="results")
    (tmp_path / "seq" / "seqinfo.ini").write_text((seq / "seqinfo.ini").read_text())
    no_first = gt.select(gt.track_id != gt.track_id[0])
    results = write_mot(tmp_path / "res.txt", no_first, kind="results")
    m = evaluate_mot({"TUD-Campus": tmp_path / "seq"}, {"TUD-Campus": results}, benchmark="MOT15")
    assert m["TUD-Campus"].false_negatives == 0 and m["TUD-Campus"].mota == pytest.approx(1.0)


def test_mismatched_sequence_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match="name different sequences"):
        evaluate_mot({"a": tmp_path}, {"b": tmp_path}, benchmark="MOT15")
    with pytest.raises(ValueError, match="benchmark: 'MOT99'"):
        evaluate_mot({}, {}, benchmark="MOT99")
