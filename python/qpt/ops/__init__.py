from .jk import coulomb, exchange, jk
