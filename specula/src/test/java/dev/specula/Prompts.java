package dev.specula;

import java.util.List;

/** Code prompts for end-to-end tests on the embedded pair. */
final class Prompts {
    private Prompts() {
    }

    static final List<String> CODE = List.of(
            "def fibonacci(n):\n",
            "class Stack:\n    def __init__(self):\n",
            "import os\n\n\ndef read_lines(path):\n",
            "    def __repr__(self):\n",
            "for i in range(len(items)):\n",
            "def main():\n    parser = argparse.ArgumentParser(",
            "    if not isinstance(value, str):\n",
            "    try:\n        import",
            "class Error(Exception):\n    \"\"\"",
            "def _check_arg(self, name, value):\n",
            "    @property\n    def name(self):\n",
            "        return self._",
            "import sys\nimport re\n\n",
            "    def test_basic(self):\n        self.assert",
            "def copy(src, dst, *, follow_symlinks=True):\n",
            "        for key, value in",
            "    with open(filename, 'rb') as f:\n",
            "if __name__ == '__main__':\n",
            "def __eq__(self, other):\n    if not isinstance(other,",
            "    raise ValueError(\"",
            "# Copyright 2001 by the Python Software Foundation\n",
            "        self.assertEqual(len(");
}
