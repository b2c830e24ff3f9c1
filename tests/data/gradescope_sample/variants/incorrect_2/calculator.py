"""Incorrect: hands the text to Python's eval (so 2 ** 8 is 256), and the REPL reads one line and stops."""


class CalculatorException(Exception):
    """Raised for input the calculator cannot evaluate."""


class Calculator:
    def eval(self, text):
        return eval(text)

    def read(self):
        return input("> ")

    def loop(self):
        self.read()


if __name__ == "__main__":
    Calculator().loop()
