"""People management that is not database access: reading a roster of people to add
from a CSV file (the trainers' People view and `POST /api/people-import`)."""
