"""Class mode: the teacher leads, every student page follows, the class's answers come back."""
