"""The grading core: submissions and typed results (``types``), reading untrusted notebooks
(``notebooks``) and putting them back in shape (``repair``), the template course
(``template``), grading a batch in a scratch course (``batch``), scheduling a class over
long-lived workers (``scheduler``, ``worker``), and writing the gradebook (``gradebook``)."""
