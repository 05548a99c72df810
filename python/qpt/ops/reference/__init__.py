from .jk import coulomb, exchange, jk, unpack_eri
