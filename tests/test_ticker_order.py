"""Rows cut per ticker: a table already in ticker order is sliced, not copied."""

import pyarrow as pa

from screener_crawler.storage.tables import by_ticker, in_ticker_order


def rows(tickers):
    return pa.table({"ticker": tickers, "n": list(range(len(tickers)))})


def test_rows_in_ticker_order_are_kept_as_they_are():
    table = rows(["AAPL", "AAPL", "MSFT", "ZZZ"])
    assert in_ticker_order(table) is table


def test_rows_out_of_ticker_order_are_sorted_each_tickers_rows_in_their_order():
    table = rows(["MSFT", "AAPL", "MSFT", "AAPL", "A"])
    ordered = in_ticker_order(table)
    assert ordered.column("ticker").to_pylist() == ["A", "AAPL", "AAPL", "MSFT", "MSFT"]
    assert ordered.column("n").to_pylist() == [4, 1, 3, 0, 2]


def test_a_table_in_ticker_order_is_cut_into_slices_of_its_own_memory():
    table = rows(["AAPL", "AAPL", "MSFT"])
    cut = dict(by_ticker(table))
    assert {ticker: part.column("n").to_pylist() for ticker, part in cut.items()} == {"AAPL": [0, 1], "MSFT": [2]}
    source = table.column("n").chunk(0).buffers()[1].address
    assert cut["MSFT"].column("n").chunk(0).buffers()[1].address == source


def test_a_table_out_of_order_is_cut_per_ticker_all_the_same():
    cut = dict(by_ticker(rows(["MSFT", "AAPL", "MSFT"])))
    assert {ticker: part.column("n").to_pylist() for ticker, part in cut.items()} == {"AAPL": [1], "MSFT": [0, 2]}


def test_a_null_ticker_does_not_pass_for_order():
    ordered = in_ticker_order(rows(["B", None, "A"]))
    assert ordered.column("ticker").to_pylist() == ["A", "B", None]
