"""Real time series that ship inside installed packages (nothing is downloaded at run time).

- :func:`load_co2`: weekly CO2 at Mauna Loa, 1958-2001 (statsmodels), gaps interpolated.
- :func:`load_sunspots`: yearly sunspot numbers, 1700-2008 (statsmodels).
- :func:`load_nile`: yearly Nile flow at Aswan, 1871-1970 (statsmodels).
- :func:`load_stock`: daily adjusted closing prices of one of five US stocks, 2000-2013
  (``bokeh_sampledata``, public-domain Quandl WIKI prices).

Each returns a ``pandas.Series`` of floats indexed by date or year.
"""

from __future__ import annotations

import pandas as pd

TICKERS = ("AAPL", "FB", "GOOG", "IBM", "MSFT")


def load_co2() -> pd.Series:
    """Weekly atmospheric CO2 (ppm), 2 284 weeks; the 59 missing weeks are interpolated."""
    from statsmodels.datasets import co2

    s = co2.load_pandas().data["co2"]
    return s.interpolate(method="time").rename("co2 (ppm)")


def load_sunspots() -> pd.Series:
    """Yearly mean sunspot number (Wolf number), 1700-2008, indexed by year."""
    from statsmodels.datasets import sunspots

    df = sunspots.load_pandas().data
    return pd.Series(df["SUNACTIVITY"].to_numpy(float), index=df["YEAR"].astype(int),
                     name="sunspot number")


def load_nile() -> pd.Series:
    """Yearly Nile flow at Aswan (10^8 m^3), 1871-1970, indexed by year."""
    from statsmodels.datasets import nile

    df = nile.load_pandas().data
    return pd.Series(df["volume"].to_numpy(float), index=df["year"].astype(int),
                     name="Nile flow (1e8 m^3)")


def load_stock(ticker: str = "IBM") -> pd.Series:
    """Daily split- and dividend-adjusted closing price (USD) of ``ticker``, to 2013-03-01."""
    if ticker not in TICKERS:
        raise ValueError(f"unknown ticker {ticker!r}: choose one of {', '.join(TICKERS)}.")
    try:
        from bokeh_sampledata import stocks
    except ImportError as e:
        raise ImportError("load_stock needs the bokeh_sampledata package: "
                          "pip install -r requirements.txt") from e
    d = getattr(stocks, ticker)
    return pd.Series(d["adj_close"], index=pd.to_datetime(d["date"]), name=f"{ticker} (USD)")
