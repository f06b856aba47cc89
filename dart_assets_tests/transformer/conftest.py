import pandas as pd
import pytest

from dart_assets.transformer.history import LoadGenerator
from dart_assets.transformer.model import fit


@pytest.fixture(scope="session")
def generator() -> LoadGenerator:
    return LoadGenerator()


@pytest.fixture(scope="session")
def history(generator) -> pd.DataFrame:
    return generator.history()


@pytest.fixture(scope="session")
def fitted(history, generator) -> dict:
    return fit(history, seed=generator.seed)
