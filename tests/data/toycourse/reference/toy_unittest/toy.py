"""Toy reference solution."""


def add(a, b):
    # BEGIN SOLUTION: return the sum
    return a + b
    # END SOLUTION


def mul(a, b):
    # BEGIN SOLUTION: return the product
    return a * b
    # END SOLUTION
