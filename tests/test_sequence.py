import numpy as np
import pytest
import torch

from wtko_captum.core.sequence import (decode, encode_indices, one_hot, pad_center,
                                  reverse_complement, reverse_complement_onehot)


def test_one_hot_alphabet_order_and_n_is_zero_column():
    X = one_hot(["ACGTN", "acgtn"])
    assert X.shape == (2, 4, 5) and X.dtype == np.float32
    expected = np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0]], np.float32)
    np.testing.assert_array_equal(X[0], expected)
    np.testing.assert_array_equal(X[1], expected)  # soft-masked lowercase encodes like uppercase


def test_non_acgt_letters_are_all_zero():
    X = one_hot(["RYKMSWBDHV-."])
    assert X.sum() == 0


def test_decode_round_trip_and_n():
    seqs = ["ACGTNNACGT", "TTTTGGGGCA"]
    assert decode(one_hot(seqs)) == seqs


def test_unequal_lengths_rejected():
    with pytest.raises(ValueError, match="length 3, expected 4"):
        encode_indices(["ACGT", "ACG"])


def test_reverse_complement_string_and_onehot_agree():
    s = "AACGTNGGCt"
    assert reverse_complement(s) == "aGCCNACGTT"
    X = one_hot([s])
    assert decode(reverse_complement_onehot(X)) == [reverse_complement(s).upper()]
    T = torch.from_numpy(X)
    np.testing.assert_array_equal(reverse_complement_onehot(T).numpy(), reverse_complement_onehot(X))


def test_pad_center_pads_and_trims_symmetrically():
    padded, left = pad_center("ACG", 8)
    assert padded == "NNACGNNN" and left == 2
    trimmed, left = pad_center("AACCGGTT", 4)
    assert trimmed == "CCGG" and left == -2


def test_consensus_of_4_and_5_row_matrices():
    from wtko_captum.core.sequence import consensus

    probs = one_hot(["ACGTA"])[0] * 0.7 + 0.075  # argmax is the one-hot letter
    assert consensus(probs) == "ACGTA"
    counts5 = np.array([[0, 5], [1, 0], [0, 0], [2, 0], [9, 1]])  # A,C,G,T,N rows
    assert consensus(counts5) == "NA"
